"""Synthetic legacy source systems of the Lahti running example: generator and readers."""

from orchestration.legacy.drop import (
    SYSTEMS,
    DropInfo,
    InjectedDefect,
    load_manifest,
    read_drop_info,
)
from orchestration.legacy.generator import generate_legacy
from orchestration.legacy.readers import CANONICAL_COLUMNS, READERS, count_source_rows

__all__ = [
    "CANONICAL_COLUMNS",
    "READERS",
    "SYSTEMS",
    "DropInfo",
    "InjectedDefect",
    "count_source_rows",
    "generate_legacy",
    "load_manifest",
    "read_drop_info",
]
