"""Read the rows a permit releases from the sharing store: scoped, filtered, keyset-paged."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from broker.errors import InvalidRequest
from contracts.base import Contract, FieldSpec, IdentifierKind
from contracts.store import store_table

FilterValue = str | int | float | bool | None


def subject_field(contract: Contract) -> str | None:
    """The field naming the person a row is about (their identity code), if the dataset has one."""
    for spec in contract.fields:
        if spec.identifier is IdentifierKind.DIRECT and "henkilotunnus" in spec.checks:
            return spec.name
    return None


def _typed(spec: FieldSpec, value: FilterValue) -> Any:
    if value is None:
        return None
    try:
        if spec.dtype == "date":
            return date.fromisoformat(str(value))
        if spec.dtype == "integer":
            return int(value)
        if spec.dtype == "number":
            return float(value)
        if spec.dtype == "boolean":
            return value if isinstance(value, bool) else str(value).lower() == "true"
    except ValueError:
        raise InvalidRequest(
            f"filter on {spec.name} needs a {spec.dtype} value", code="invalid_filter"
        ) from None
    return str(value)


def conditions(contract: Contract, criteria: Mapping[str, FilterValue]) -> list[Any]:
    """Equality conditions for a row scope or filters, typed by the contract."""
    table = store_table(contract)
    clauses = []
    for name, value in criteria.items():
        column = table.c[name]
        typed = _typed(contract.field(name), value)
        clauses.append(column.is_(None) if typed is None else column == typed)
    return clauses


def columns_needed(contract: Contract, released: Sequence[str]) -> list[str]:
    """Released fields plus the key (for paging) and the subject (for the disclosure index)."""
    wanted = [*released, *contract.primary_key, subject_field(contract)]
    return list(dict.fromkeys(name for name in wanted if name))


def select_rows(
    contract: Contract,
    columns: Sequence[str],
    criteria: Sequence[Any],
    *,
    after: Sequence[Any] | None = None,
    limit: int | None = None,
) -> sa.Select[Any]:
    """The query of released rows in primary-key order, after a keyset position if given."""
    table = store_table(contract)
    key = [table.c[name] for name in contract.primary_key]
    query = sa.select(*(table.c[name] for name in columns)).where(*criteria).order_by(*key)
    if after is not None:
        query = query.where(sa.tuple_(*key) > sa.tuple_(*after))
    return query.limit(limit) if limit is not None else query


def count_rows(conn: Connection, contract: Contract, criteria: Sequence[Any]) -> int:
    """How many rows a share would release."""
    table = store_table(contract)
    query = sa.select(sa.func.count()).select_from(table).where(*criteria)
    return int(conn.execute(query).scalar_one())


def frame_from(
    result: sa.CursorResult[Any], rows: Sequence[Any], contract: Contract
) -> pd.DataFrame:
    """Rows as a DataFrame with dates as timestamps, ready for the privacy transforms."""
    names = list(result.keys())
    # Building column by column is several times faster than from a list of row objects.
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    frame = pd.DataFrame(
        {name: pd.Series(values, dtype=object) for name, values in zip(names, columns, strict=True)}
    )
    for name in names:
        if contract.field(name).dtype == "date":
            frame[name] = pd.to_datetime(frame[name])
    return frame


def iter_frames(
    conn: Connection, contract: Contract, query: sa.Select[Any], chunk_size: int
) -> Iterator[pd.DataFrame]:
    """Stream a query as DataFrames of at most ``chunk_size`` rows."""
    result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(query)
    for partition in result.partitions(chunk_size):
        yield frame_from(result, partition, contract)


def _json_values(series: pd.Series) -> list[Any]:
    if pd.api.types.is_datetime64_any_dtype(series):
        series = series.dt.strftime("%Y-%m-%d")
    values = series.to_numpy(dtype=object, copy=True)
    missing = series.isna().to_numpy()
    if missing.any():
        values[missing] = None
    return list(values.tolist())


def json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dictionaries: ISO dates, None for missing values."""
    names = [str(name) for name in frame.columns]
    columns = [_json_values(frame[name]) for name in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
