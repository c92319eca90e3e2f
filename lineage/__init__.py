"""Tillit lineage package."""
