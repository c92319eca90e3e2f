"""Store engines: every SQLite connection set up the same way, and JSON columns' text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from contracts.store import json_text, make_engine


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
