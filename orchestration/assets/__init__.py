"""Dagster assets: legacy extracts, validated datasets and the datasets computed from them."""
