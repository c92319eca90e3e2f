"""Rows leave as JSON: the fast path (row dictionaries written by orjson) spells every value as
the plain one (``json_rows``) does."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from broker.errors import InvalidRequest
from broker.store.rows import (
    PageQueries,
    columns_needed,
    conditions,
    iso_default,
    json_rows,
    row_dicts,
    select_rows,
)
from contracts.base import Contract
from contracts.registry import all_contracts

ZONES = st.sampled_from(
    [
        None,
        UTC,
        ZoneInfo("Europe/Helsinki"),
        timezone(timedelta(hours=2)),
        timezone(timedelta(hours=-5)),
    ]
)
DATETIMES = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    ZONES,
)
TIMESTAMPS = st.builds(pd.Timestamp, DATETIMES)
TEXT = st.text(max_size=12)
# A store column holds one type; any value may be missing.
KINDS = [st.dates(), DATETIMES, TIMESTAMPS, TEXT, st.integers(-(2**63), 2**63 - 1), st.booleans()]


@st.composite
def columns(draw: st.DrawFn) -> dict[str, list[Any]]:
    count = draw(st.integers(0, 6))
    names = draw(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=5, unique=True))
    kinds = {name: st.none() | draw(st.sampled_from(KINDS)) for name in names}
    return {name: draw(st.lists(kinds[name], min_size=count, max_size=count)) for name in names}


@given(columns())
def test_row_dictionaries_written_by_orjson_read_as_json_rows(rows: dict[str, list[Any]]) -> None:
    fast = orjson.dumps(row_dicts(rows), default=iso_default)
    assert fast == orjson.dumps(json_rows(rows))


@given(columns())
def test_each_row_names_its_values_in_column_order(rows: dict[str, list[Any]]) -> None:
    """The rows hold each column's value under its name, whatever the names spell."""
    # Each value as JSON spells it alone (aware times keep offsets of seconds, which orjson
    # would round to the minute), then named here.
    plain = {
        name: [row["value"] for row in orjson.loads(orjson.dumps(json_rows({"value": column})))]
        for name, column in rows.items()
    }
    built = orjson.loads(orjson.dumps(row_dicts(rows), default=iso_default))
    expected = [dict(zip(plain, row, strict=True)) for row in zip(*plain.values(), strict=True)]
    assert built == expected
    assert all(list(row) == list(rows) for row in built)


def test_dates_and_times_are_iso_8601() -> None:
    rows = {
        "day": [date(2026, 3, 2)],
        "at": [datetime(2026, 3, 2, 8, 15, 0, 250, tzinfo=UTC)],
        "stamp": [pd.Timestamp("2026-03-02 08:15")],
    }
    assert orjson.loads(orjson.dumps(row_dicts(rows), default=iso_default)) == [
        {
            "day": "2026-03-02",
            "at": "2026-03-02T08:15:00.000250+00:00",
            "stamp": "2026-03-02T08:15:00",
        }
    ]


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError):
        row_dicts({"a": [1, 2], "b": [1]})


def test_what_orjson_cannot_write_still_fails() -> None:
    with pytest.raises(TypeError):
        orjson.dumps(row_dicts({"a": [object()]}), default=iso_default)


# -- page queries --------------------------------------------------------------------------

_VALUES = {
    "date": st.dates().map(date.isoformat),
    "integer": st.integers(-(2**40), 2**40),
    "number": st.floats(allow_nan=False, allow_infinity=False),
    "boolean": st.booleans(),
    "string": st.text(max_size=6),
}


@st.composite
def page_requests(draw: st.DrawFn) -> tuple[Contract, list[str], list[tuple[str, Any]], Any]:
    contract = draw(st.sampled_from(all_contracts()))
    names = [spec.name for spec in contract.fields]
    columns = columns_needed(contract, draw(st.lists(st.sampled_from(names), min_size=1)))
    equalities = []
    for name in draw(st.lists(st.sampled_from(names), max_size=4)):
        value = draw(st.none() | _VALUES.get(contract.field(name).dtype, _VALUES["string"]))
        equalities.append((name, value))
    width = len(contract.primary_key)
    after = draw(st.none() | st.lists(st.text(max_size=6), min_size=width, max_size=width))
    return contract, columns, equalities, after


def _bound(compiled: Any, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """The statement's text with its parameters' names left out, and their values in order."""
    values = compiled.construct_params(params)
    names = re.findall(r"%\((\w+)\)s", compiled.string)
    if names:
        return re.sub(r"%\(\w+\)s", "%s", compiled.string), [values[name] for name in names]
    return compiled.string, [values[name] for name in compiled.positiontup]


@settings(max_examples=300)
@given(request=page_requests(), limit=st.integers(1, 10_001))
def test_a_page_query_is_the_one_select_rows_builds(
    request: tuple[Contract, list[str], list[tuple[str, Any]], Any], limit: int
) -> None:
    contract, columns, equalities, after = request
    pages = PageQueries()
    statement, params = pages.query(contract, columns, equalities, after=after, limit=limit)
    # As the share service builds them: one condition for each field compared, in order.
    criteria = [c for name, value in equalities for c in conditions(contract, {name: value})]
    built = select_rows(contract, columns, criteria, after=after, limit=limit)
    for dialect in (sqlite.dialect(), postgresql.psycopg.dialect()):
        assert _bound(statement.compile(dialect=dialect), params) == _bound(
            built.compile(dialect=dialect), {}
        )
    # Built once for its shape: asked again with other values, the statement is reused.
    again, _ = pages.query(contract, columns, equalities, after=after, limit=limit + 1)
    assert again is statement


def test_a_bad_filter_value_is_refused_as_conditions_refuses_it() -> None:
    contract = next(c for c in all_contracts() if any(s.dtype == "date" for s in c.fields))
    field = next(spec.name for spec in contract.fields if spec.dtype == "date")
    with pytest.raises(InvalidRequest, match=field):
        PageQueries().query(contract, [field], [(field, "not a date")], after=None, limit=10)
