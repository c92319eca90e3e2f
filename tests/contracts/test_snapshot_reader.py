"""A snapshot reader sees one state of the store for as long as it is open, on SQLite and
PostgreSQL, and releases it when closed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contracts.store import make_engine, snapshot_reader


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE people (code TEXT)"))
        conn.execute(sa.text("INSERT INTO people VALUES ('a')"))
    yield engine
    engine.dispose()


def _count(conn: sa.Connection) -> int:
    return int(conn.execute(sa.text("SELECT count(*) FROM people")).scalar_one())


def _add(engine: Engine, code: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO people VALUES (:code)"), {"code": code})


def test_reads_see_the_store_as_it_was_at_the_first_read(engine: Engine) -> None:
    reader = snapshot_reader(engine)
    try:
        assert _count(reader) == 1
        _add(engine, "b")
        assert _count(reader) == 1
    finally:
        reader.close()
    with engine.connect() as conn:
        assert _count(conn) == 2


def test_a_plain_connection_would_see_the_later_write(engine: Engine) -> None:
    # What the snapshot prevents: without it each statement reads the newest commit.
    with engine.connect() as conn:
        assert _count(conn) == 1
        _add(engine, "b")
        assert _count(conn) == 2


def test_a_closed_reader_holds_nothing_back(engine: Engine) -> None:
    for number in range(3):
        reader = snapshot_reader(engine)
        assert _count(reader) == 1 + number
        reader.close()
        _add(engine, f"after-{number}")
    with engine.connect() as conn:
        assert _count(conn) == 4
