"""Tillit broker package."""
