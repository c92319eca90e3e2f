"""Reader of the fixed-width Latin-1 population register extract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from contracts.errors import SchemaDriftError
from orchestration.legacy.canonical import clean_text, compact_date, label
from orchestration.legacy.drop import FILES
from orchestration.legacy.population_register import (
    CANONICAL_COLUMNS,
    ENCODING,
    RECORD_TYPE,
    SYSTEM,
    VTJ_LAYOUT,
)
from orchestration.legacy.readers.common import DEFAULT_CHUNK_SIZE, Row, check_columns, frames

SEX_LABELS = {"1": "male", "2": "female"}
_HEADER_PREFIX_FIELDS = 3  # record type, layout version, extract date


def check_header(header: str) -> None:
    """Compare the header record's column list with the documented layout."""
    tokens = header.rstrip("\r\n").split(";")
    if tokens[0] != RECORD_TYPE or len(tokens) < _HEADER_PREFIX_FIELDS:
        raise SchemaDriftError(SYSTEM, tokens[0], f"is not the header record {RECORD_TYPE}")
    columns = [token.partition(":") for token in tokens[_HEADER_PREFIX_FIELDS:]]
    check_columns(SYSTEM, [f.source for f in VTJ_LAYOUT], [name for name, _, _ in columns])
    for field, (name, _, width) in zip(VTJ_LAYOUT, columns, strict=True):
        if width != str(field.width):
            raise SchemaDriftError(SYSTEM, name, f"has width {width}, documented {field.width}")


def _record(text: str, line: int) -> Row:
    values = [text[f.start : f.start + f.width] for f in VTJ_LAYOUT]
    return (
        clean_text(values[0]), clean_text(values[1]), clean_text(values[2]),
        compact_date(values[3]), label(values[4], SEX_LABELS), clean_text(values[5]),
        clean_text(values[6]), clean_text(values[7]), compact_date(values[8]),
        clean_text(values[9]), clean_text(values[10]), f"line {line}",
    )  # fmt: skip


def _records(path: Path) -> Iterator[Row]:
    with path.open(encoding=ENCODING, newline="\n") as handle:
        next(handle)  # the header, checked before iteration starts
        for line, text in enumerate(handle, start=2):
            yield _record(text.rstrip("\r\n"), line)


def read_population_register(
    legacy_dir: Path, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[pd.DataFrame]:
    """Yield canonical population register rows, one per data record, in chunks."""
    path = legacy_dir / FILES[SYSTEM]
    with path.open(encoding=ENCODING, newline="\n") as handle:
        check_header(handle.readline())
    return frames(_records(path), CANONICAL_COLUMNS, chunk_size)
