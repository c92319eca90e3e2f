"""Tillit tillit package."""
