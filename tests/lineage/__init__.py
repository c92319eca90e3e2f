"""Tests of the lineage package: events, facets, store, outbox and transports."""
