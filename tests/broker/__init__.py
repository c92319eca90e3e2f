"""Tests of the broker's pure core: configuration, policy engine and token verification."""
