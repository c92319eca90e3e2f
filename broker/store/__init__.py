"""The broker's own tables and its read access to the sharing store."""
