"""Store engines: every SQLite connection set up the same way, and JSON columns' text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.store import json_text, json_value, make_engine


def test_sqlite_connections_get_the_store_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as conn:
        names = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys", "temp_store")
        settings = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one() for name in names}
    # synchronous 1 is NORMAL; temp_store 2 is MEMORY.
    assert settings == {
        "journal_mode": "wal",
        "synchronous": 1,
        "busy_timeout": 30000,
        "foreign_keys": 1,
        "temp_store": 2,
    }


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON_VALUES)
def test_json_columns_read_back_what_json_dumps_would_have_stored(value: Any) -> None:
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


def test_what_orjson_refuses_is_written_by_json_dumps() -> None:
    assert json_text({1: "a"}) == '{"1": "a"}'
    assert json.loads(json_text([2**70, -(2**64)])) == [2**70, -(2**64)]
    with pytest.raises(TypeError):
        json_text({"at": datetime(2026, 1, 1, tzinfo=UTC)})


def test_a_json_column_keeps_non_ascii_text_and_large_integers(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    table = sa.Table("docs", sa.MetaData(), sa.Column("doc", sa.JSON))
    table.create(engine)
    doc = {"nimi": "Äänekoski", "count": 2**70, "items": [1.5, None, True]}
    with engine.begin() as conn:
        conn.execute(table.insert(), {"doc": doc})
    with engine.connect() as conn:
        assert conn.execute(sa.select(table.c.doc)).scalar_one() == doc


_ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.sampled_from([2**63 - 1, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 10**18, -(10**18)])
    | st.floats()
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _spelled(value: Any) -> str:
    """A value as json.dumps spells it: tells 1 from 1.0 and True, and -0.0 from 0.0."""
    return json.dumps(value, sort_keys=False)


@settings(max_examples=300)
@given(value=_ANY_JSON, ascii_only=st.booleans())
def test_a_json_column_reads_exactly_what_json_loads_reads(value: Any, ascii_only: bool) -> None:
    for text in (json.dumps(value, ensure_ascii=ascii_only), json_text(value)):
        assert _spelled(json_value(text)) == _spelled(json.loads(text))
        assert _spelled(json_value(text.encode())) == _spelled(json.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        "123456789012345678901234567890",
        "-9223372036854775809",
        "18446744073709551616",
        "[1e400, -1e400, 1e-400]",
        "NaN",
        '"\\ud800"',
        '{"a": 1, "b": 2, "a": 3}',
        "[1.0000000000000002, 0.1, -0.0, 1E5]",
        '{"id": "12345678901234567890123", "n": 7}',
    ],
)
def test_what_orjson_could_read_differently_is_read_by_json_loads(text: str) -> None:
    assert _spelled(json_value(text)) == _spelled(json.loads(text))


def test_text_that_is_not_json_is_refused_as_json_loads_refuses_it() -> None:
    for text in ("", "{", "01", "[1,]", "\ufeff[]"):
        with pytest.raises(json.JSONDecodeError):
            json_value(text)
    # A number SQLite returns from a JSON column is refused as json.loads refuses it, which
    # is how SQLAlchemy knows to return it as it is.
    for value in (5, 2**70, 1.5):
        with pytest.raises(TypeError):
            json_value(value)  # type: ignore[arg-type]
