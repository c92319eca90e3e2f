"""Tillit benchmarks: every speed and memory target as a ratio against a baseline in the same run.

Benchmarks report; they never fail the build and are not collected by pytest.
"""
