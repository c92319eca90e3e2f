"""Reader of the family social services CSV export (cp1252, semicolons, decimal commas)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from contracts.errors import SchemaDriftError
from orchestration.legacy.canonical import clean_text, decimal_comma, dmy_date, label
from orchestration.legacy.drop import FILES
from orchestration.legacy.family_services import (
    CANONICAL_COLUMNS,
    CASE_TYPE_LABELS,
    DELIMITER,
    ENCODING,
    HEADER,
    SYSTEM,
)
from orchestration.legacy.readers.common import DEFAULT_CHUNK_SIZE, Row, check_columns, frames


def check_header(header: list[str]) -> None:
    """Compare the CSV header with the documented column list."""
    check_columns(SYSTEM, HEADER, [name.strip() for name in header])


def _rows(path: Path) -> Iterator[Row]:
    width = len(HEADER)
    with path.open(encoding=ENCODING, newline="") as handle:
        reader = csv.reader(handle, delimiter=DELIMITER)
        next(reader)
        for fields in reader:
            # A short line keeps its row (missing fields become None); the contract flags it.
            values = [*fields[:width], *([""] * (width - len(fields)))]
            yield (
                clean_text(values[0]), clean_text(values[1]), label(values[2], CASE_TYPE_LABELS),
                dmy_date(values[3]), dmy_date(values[4]), clean_text(values[5]),
                clean_text(values[6]), decimal_comma(values[7]), f"line {reader.line_num}",
            )  # fmt: skip


def read_family_services(
    legacy_dir: Path, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[pd.DataFrame]:
    """Yield canonical case rows, one per CSV data line, in chunks."""
    path = legacy_dir / FILES[SYSTEM]
    with path.open(encoding=ENCODING, newline="") as handle:
        header = next(csv.reader(handle, delimiter=DELIMITER), None)
    if header is None:
        raise SchemaDriftError(SYSTEM, HEADER[0], "is missing (the file has no header)")
    check_header(header)
    return frames(_rows(path), CANONICAL_COLUMNS, chunk_size)
