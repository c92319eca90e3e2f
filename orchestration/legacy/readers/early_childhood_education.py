"""Reader of the daycare vendor's SQLite database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pandas as pd

from contracts.errors import SchemaDriftError
from orchestration.legacy.canonical import cents_to_euros, clean_text, dmy_date, label
from orchestration.legacy.drop import FILES
from orchestration.legacy.early_childhood_education import (
    CANONICAL_COLUMNS,
    STATUS_LABELS,
    SYSTEM,
    TABLES,
    source_ref,
)
from orchestration.legacy.readers.common import DEFAULT_CHUNK_SIZE, Row, check_columns, frames

# Every LPS_SIJ row exactly once, in storage order; later copies of a SIJ_ID are numbered.
_PLACEMENTS = """
SELECT SIJ_ID, LPS_HTU, YKS_KD, HAK_PVM, ALK_PVM, PAA_PVM, TNT_VK, MKS_SNT, TILA,
       ROW_NUMBER() OVER (PARTITION BY SIJ_ID ORDER BY rowid) AS occurrence
FROM LPS_SIJ
ORDER BY rowid
"""


def _text(value: object) -> str | None:
    return None if value is None else clean_text(str(value))


def check_schema(connection: sqlite3.Connection) -> None:
    """Compare table and column names (PRAGMA table_info) with the documented layout."""
    for table, columns in TABLES.items():
        found = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
        if not found:
            raise SchemaDriftError(SYSTEM, table, "table is missing")
        check_columns(SYSTEM, [name for name, _ in columns], found, ordered=False)


def _rows(path: Path, chunk_size: int) -> Iterator[Row]:
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
        units: dict[str, str | None] = {}
        for code, name in connection.execute("SELECT YKS_KD, YKS_NMI FROM YKS ORDER BY rowid"):
            units.setdefault(str(code).strip(), _text(name))
        cursor = connection.execute(_PLACEMENTS)
        while batch := cursor.fetchmany(chunk_size):
            for sij, child, unit, applied, start, end, hours, fee, status, occurrence in batch:
                unit_code = _text(unit)
                yield (
                    _text(sij), _text(child), unit_code,
                    units.get(unit_code) if unit_code else None,
                    dmy_date(applied), dmy_date(start), dmy_date(end), _text(hours),
                    cents_to_euros(fee), label(status, STATUS_LABELS), source_ref(sij, occurrence),
                )  # fmt: skip


def read_early_childhood_education(
    legacy_dir: Path, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[pd.DataFrame]:
    """Yield canonical placement rows, one per LPS_SIJ row joined to its unit, in chunks."""
    path = legacy_dir / FILES[SYSTEM]
    if not path.exists():
        raise FileNotFoundError(path)
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
        check_schema(connection)
    return frames(_rows(path, chunk_size), CANONICAL_COLUMNS, chunk_size)
