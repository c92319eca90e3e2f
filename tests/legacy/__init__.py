"""Tests of the synthetic legacy source systems."""
