"""Tillit contracts package."""
