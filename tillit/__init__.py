"""Tillit's command line: one entry point for stewards, operators and the demo."""
