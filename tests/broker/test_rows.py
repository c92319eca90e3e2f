"""Rows leave as JSON: the fast path (row dictionaries written by orjson) spells every value as
the plain one (``json_rows``) does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.store.rows import iso_default, json_rows, row_dicts

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
