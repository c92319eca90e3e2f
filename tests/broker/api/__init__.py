"""Tests of the broker's HTTP layer: problem documents and resource limits."""
