"""Dataset writes are atomic: a crash half-way leaves the previous complete dataset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from contracts.registry import get_contract
from contracts.store import make_engine
from orchestration.legacy import READERS
from orchestration.loading import load_source_dataset
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
