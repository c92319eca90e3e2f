"""Writers on one SQLite store take turns in the process and across processes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from contracts.store import make_engine, sqlite_writer


def test_a_writer_holding_the_turn_may_open_another_section(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with sqlite_writer(engine), sqlite_writer(engine), engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    assert (tmp_path / "store.db.writers").exists()


def test_writers_of_one_process_take_turns(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    inside, most = 0, 0
    guard = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(20):
            with sqlite_writer(engine):
                with guard:
                    inside += 1
                    most = max(most, inside)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1


def test_an_in_memory_database_takes_turns_without_a_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = sa.create_engine("sqlite://")
    with sqlite_writer(engine), engine.begin() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    assert list(tmp_path.iterdir()) == []
