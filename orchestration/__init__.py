"""Tillit orchestration package."""
