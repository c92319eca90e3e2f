"""Dataset writes are atomic: a crash half-way leaves the previous complete dataset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.registry import get_contract
from contracts.store import make_engine
from orchestration.legacy import READERS
from orchestration.loading import frame_records, insert_frame, load_source_dataset
from tests.schema import prepare_store


def _count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()


def test_a_crash_half_way_leaves_the_previous_dataset(tmp_path: Path, legacy_drop: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/store.db")
    prepare_store(engine)
    persons = get_contract("persons")
    first = load_source_dataset(
        engine, persons, READERS["population_register"](legacy_drop, 200), run_id="r1"
    )
    before = (_count(engine, "persons"), _count(engine, "quarantine"))
    assert before == (first.rows_loaded, first.rows_quarantined)

    def crashing() -> Iterator[pd.DataFrame]:
        chunks = READERS["population_register"](legacy_drop, 200)
        yield next(chunks)
        yield next(chunks)
        raise OSError("file share went away")

    with pytest.raises(OSError, match="file share"):
        load_source_dataset(engine, persons, crashing(), run_id="r2")
    assert (_count(engine, "persons"), _count(engine, "quarantine")) == before
    with engine.connect() as conn:
        runs = set(conn.execute(sa.text("select distinct _run_id from persons")).scalars())
    assert runs == {"r1"}


def _rows_table(name: str, metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("text", sa.Text),
        sa.Column("day", sa.Date),
        sa.Column("count", sa.BigInteger),
        sa.Column("amount", sa.Float),
        sa.Column("flag", sa.Boolean),
    )


_moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.none() | st.text(max_size=8),
            st.none() | _moments,
            st.none() | st.integers(-(2**40), 2**40),
            st.none() | st.floats(allow_nan=False, allow_infinity=False),
            st.none() | st.booleans(),
        ),
        max_size=20,
    )
)
def test_insert_frame_stores_what_sqlalchemy_would(rows: list[tuple[Any, ...]]) -> None:
    frame = pd.DataFrame(rows, columns=["text", "day", "count", "amount", "flag"]).astype(
        {
            "text": "str",
            "day": "datetime64[us]",
            "count": "Int64",
            "amount": "float64",
            "flag": "boolean",
        }
    )
    metadata = sa.MetaData()
    ours, theirs = _rows_table("ours", metadata), _rows_table("theirs", metadata)
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        metadata.create_all(conn)
        insert_frame(conn, ours, frame)
        if len(frame):
            conn.execute(theirs.insert(), frame_records(frame))
        stored = [
            conn.exec_driver_sql(f"SELECT * FROM {name} ORDER BY rowid").fetchall()  # noqa: S608
            for name in ("ours", "theirs")
        ]
    assert stored[0] == stored[1]
