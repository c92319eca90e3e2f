"""Read the rows a permit releases from the sharing store: scoped, filtered, keyset-paged."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from broker.errors import InvalidRequest
from broker.privacy.generalise import is_missing
from broker.privacy.transforms import Columns
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


class PageQueries:
    """Keyset page queries built once per shape and run with each request's values.

    Building a SELECT and computing its SQLAlchemy cache key cost about 80 µs, a third of
    reading a 100-row page, and the shape repeats from one request to the next: the dataset,
    the columns, which fields are compared (and which asked to be null), and whether the page
    starts after a key. The values (filters, the key, the limit) are bound at execution. The
    statement is the one ``select_rows`` builds for ``conditions``, value for value.
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._built: dict[tuple[Any, ...], sa.Select[Any]] = {}

    def query(
        self,
        contract: Contract,
        columns: Sequence[str],
        equalities: Sequence[tuple[str, FilterValue]],
        *,
        after: Sequence[Any] | None,
        limit: int,
    ) -> tuple[sa.Select[Any], dict[str, Any]]:
        """The page query and its parameters: rows whose fields equal ``equalities`` (a row
        scope and a request's filters, typed by the contract), in key order after ``after``."""
        typed = [(name, _typed(contract.field(name), value)) for name, value in equalities]
        shape = (
            contract.name,
            tuple(columns),
            tuple((name, _compared(value)) for name, value in typed),
            after is not None,
        )
        statement = self._built.get(shape)
        if statement is None:
            if len(self._built) >= self._size:
                self._built.clear()
            statement = self._built[shape] = _page_statement(contract, *shape[1:])
        params: dict[str, Any] = {"page_limit": limit}
        params.update(
            (f"where_{i}", value) for i, (_, value) in enumerate(typed) if value is not None
        )
        if after is not None:
            params.update((f"after_{i}", value) for i, value in enumerate(after))
        return statement, params


def _compared(value: Any) -> Any:
    """How a field is compared: IS NULL, with SQL's true or false (as ``conditions`` renders a
    boolean), or with a bound value."""
    if value is None:
        return "null"
    return value if isinstance(value, bool) else "bound"


def _page_statement(
    contract: Contract,
    columns: tuple[str, ...],
    compared: tuple[tuple[str, Any], ...],
    paged: bool,
) -> sa.Select[Any]:
    table = store_table(contract)
    key = [table.c[name] for name in contract.primary_key]
    where = [
        table.c[name].is_(None)
        if how == "null"
        else table.c[name]
        == (sa.bindparam(f"where_{i}", type_=table.c[name].type) if how == "bound" else how)
        for i, (name, how) in enumerate(compared)
    ]
    query = sa.select(*(table.c[name] for name in columns)).where(*where).order_by(*key)
    if paged:
        # Cursor positions are text, bound as select_rows binds them.
        position = [sa.bindparam(f"after_{i}", type_=sa.String()) for i in range(len(key))]
        query = query.where(sa.tuple_(*key) > sa.tuple_(*position))
    return query.limit(sa.bindparam("page_limit", type_=sa.Integer()))


def count_rows(conn: Connection, contract: Contract, criteria: Sequence[Any]) -> int:
    """How many rows a share would release."""
    table = store_table(contract)
    query = sa.select(sa.func.count()).select_from(table).where(*criteria)
    return int(conn.execute(query).scalar_one())


def columns_from(result: sa.CursorResult[Any], rows: Sequence[Any]) -> Columns:
    """Fetched rows column by column, values as the database driver gives them."""
    names = list(result.keys())
    if not rows:
        return {name: [] for name in names}
    return {name: list(values) for name, values in zip(names, zip(*rows, strict=True), strict=True)}


def row_count(columns: Columns) -> int:
    """How many rows the columns hold (none when there are no columns)."""
    return len(next(iter(columns.values()), ()))


def iter_columns(conn: Connection, query: sa.Select[Any], chunk_size: int) -> Iterator[Columns]:
    """Stream a query in chunks of at most ``chunk_size`` rows."""
    result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(query)
    for partition in result.partitions(chunk_size):
        yield columns_from(result, partition)


def columns_of(frame: pd.DataFrame) -> Columns:
    """A DataFrame's columns as plain Python values, None for missing ones."""
    columns: Columns = {}
    for name in frame.columns:
        values = frame[name].astype(object).tolist()
        columns[str(name)] = [
            None if is_missing(value) or value is pd.NA or value is pd.NaT else _plain(value)
            for value in values
        ]
    return columns


def _plain(value: Any) -> Any:
    # numpy scalars (counts, years of a nullable integer column) are not JSON.
    return value.item() if isinstance(value, np.generic) else value


def _holds_dates(column: list[Any]) -> bool:
    """Whether a column's values are dates (a column from the store holds one type)."""
    first = next((value for value in column if value is not None), None)
    return isinstance(first, date)


def row_dicts(columns: Columns) -> list[dict[str, Any]]:
    """Rows as dictionaries for ``orjson.dumps(..., default=iso_default)``, which then writes
    every value exactly as ``json_rows`` spells it, at a fraction of the cost: dates and naive
    times are left to orjson; other date-likes (aware times, whose offsets orjson rounds to the
    minute, and pandas Timestamps) become their ISO 8601 text here."""
    values = [_iso(column) if _needs_iso(column) else column for column in columns.values()]
    if not values:
        return []
    # The columns are checked to be of one length; each row then has one value per name.
    return _row_builder(len(values))(*columns, values)


@functools.lru_cache(maxsize=64)
def _row_builder(width: int) -> Callable[..., list[dict[str, Any]]]:
    """A function building the rows of `width` columns with a dictionary display, about twice
    as fast as ``dict(zip(names, row))`` for each row: ``build(*names, columns)``.

    The generated source names only its own parameters (k0, v0, ...); the column names are
    passed in as values, never written into code."""
    keys = ", ".join(f"k{i}" for i in range(width))
    values = "".join(f"v{i}, " for i in range(width))
    pairs = ", ".join(f"k{i}: v{i}" for i in range(width))
    source = (
        f"def build({keys}, columns):\n"
        f"    return [{{{pairs}}} for {values}in zip(*columns, strict=True)]\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - our own source, no data in it
    build: Callable[..., list[dict[str, Any]]] = namespace["build"]
    return build


def _orjson_spells(value: Any) -> bool:
    kind = type(value)
    return kind is date or (kind is datetime and value.tzinfo is None)


_NONE = type(None)


def _needs_iso(column: list[Any]) -> bool:
    if not _holds_dates(column):
        return False
    kinds = set(map(type, column))
    if kinds <= {date, _NONE}:
        return False
    return not all(value is None or _orjson_spells(value) for value in column)


def _iso(column: list[Any]) -> list[Any]:
    return [None if value is None else value.isoformat() for value in column]


def iso_default(value: Any) -> Any:
    """orjson's fallback for what it cannot write itself: a date-like of another type (a pandas
    Timestamp) in its own ISO 8601 form, as ``json_rows`` writes it."""
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def json_rows(columns: Columns) -> list[dict[str, Any]]:
    """Rows as JSON-ready dictionaries: ISO dates, None for missing values."""
    return row_dicts(
        {name: _iso(column) if _holds_dates(column) else column for name, column in columns.items()}
    )
