"""A contract's table follows the contract: rebuilt when its version changes the columns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contracts.registry import all_contracts, get_contract
from contracts.store import make_engine, store_table_drift
from orchestration.legacy import READERS
from orchestration.loading import load_source_dataset
from tests.schema import migrate, prepare_store

# persons as an earlier contract version had it: no district, and a column since removed.
OLD_PERSONS = """
CREATE TABLE persons (
    person_id TEXT NOT NULL PRIMARY KEY, last_name TEXT NOT NULL, first_names TEXT NOT NULL,
    birth_date DATE NOT NULL, sex TEXT NOT NULL, municipality_code TEXT NOT NULL,
    street_address TEXT NOT NULL, postal_code TEXT NOT NULL, move_in_date DATE,
    previous_municipality_code TEXT, dwelling_id TEXT NOT NULL, mother_tongue TEXT,
    _source_ref TEXT, _run_id TEXT
)
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(migrate(url))
    yield engine
    engine.dispose()


def _columns(engine: Engine) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns("persons")}


def test_tables_built_from_the_contracts_match_them(engine: Engine) -> None:
    prepare_store(engine)
    with engine.connect() as conn:
        assert {c.name: store_table_drift(conn, c) for c in all_contracts()} == {
            c.name: [] for c in all_contracts()
        }


def test_a_changed_contract_rebuilds_its_table_atomically(
    engine: Engine, legacy_drop: Path
) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(OLD_PERSONS))
        conn.execute(
            sa.text(
                "INSERT INTO persons VALUES ('010101-0101', 'Old', 'Row', '2001-01-01', 'F', "
                "'398', 'Katu 1', '15100', NULL, NULL, 'D1', 'fi', NULL, 'r0')"
            )
        )
    persons = get_contract("persons")
    with engine.connect() as conn:
        drift = store_table_drift(conn, persons)
    assert drift == ["column district is new", "column mother_tongue is no longer in the contract"]

    def crashing() -> Iterator[pd.DataFrame]:
        chunks = READERS["population_register"](legacy_drop, 200)
        yield next(chunks)
        raise OSError("file share went away")

    with pytest.raises(OSError, match="file share"):
        load_source_dataset(engine, persons, crashing(), run_id="r1")
    # The failed load took its rebuild with it: the old table and its row are still there.
    assert "mother_tongue" in _columns(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT _run_id FROM persons")).scalars().all() == ["r0"]

    stats = load_source_dataset(
        engine, persons, READERS["population_register"](legacy_drop, 200), run_id="r2"
    )
    assert stats.rows_loaded > 0
    assert "district" in _columns(engine) and "mother_tongue" not in _columns(engine)
    with engine.connect() as conn:
        assert store_table_drift(conn, persons) == []
        runs = set(conn.execute(sa.text("SELECT DISTINCT _run_id FROM persons")).scalars())
    assert runs == {"r2"}
