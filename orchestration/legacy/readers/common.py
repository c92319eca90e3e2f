"""Shared reader machinery: schema drift checks and chunked DataFrame building."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pandas as pd

from contracts.errors import SchemaDriftError

SOURCE_REF = "_source_ref"
DEFAULT_CHUNK_SIZE = 50_000
Row = tuple[str | None, ...]


def check_columns(
    source: str, documented: Sequence[str], actual: Sequence[str], *, ordered: bool = True
) -> None:
    """Raise SchemaDriftError naming the first source column that differs from the layout."""
    missing = [c for c in documented if c not in actual]
    extra = [c for c in actual if c not in documented]
    if missing and extra and len(missing) == len(extra):
        raise SchemaDriftError(source, missing[0], f"was renamed to {extra[0]!r}")
    if missing:
        raise SchemaDriftError(source, missing[0], "is missing")
    if extra:
        raise SchemaDriftError(source, extra[0], "is not in the documented layout")
    if ordered:
        for position, (expected, found) in enumerate(zip(documented, actual, strict=True), 1):
            if expected != found:
                raise SchemaDriftError(source, found, f"is at position {position}, not documented")


def frames(rows: Iterable[Row], columns: Sequence[str], chunk_size: int) -> Iterator[pd.DataFrame]:
    """Group rows into object-dtype DataFrames of at most chunk_size rows (one empty if none)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    names = [*columns, SOURCE_REF]
    chunk: list[Row] = []
    emitted = False
    for row in rows:
        chunk.append(row)
        if len(chunk) >= chunk_size:
            yield pd.DataFrame(chunk, columns=names, dtype=object)
            chunk, emitted = [], True
    if chunk or not emitted:
        yield pd.DataFrame(chunk, columns=names, dtype=object)
