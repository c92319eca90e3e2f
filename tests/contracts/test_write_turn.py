"""Writers on one SQLite store take turns in the process and across processes."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from contracts.store import WriteTurnBusy, make_engine, sqlite_writer


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


def test_a_writer_that_must_not_wait_is_told_the_turn_is_busy(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    # Free: taken at once, re-entrantly by its holder, and handed back.
    with sqlite_writer(engine, wait=False), sqlite_writer(engine, wait=False):
        pass
    # Held by another thread of this process.
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with sqlite_writer(engine):
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    try:
        with pytest.raises(WriteTurnBusy, match="thread"), sqlite_writer(engine, wait=False):
            pass
    finally:
        release.set()
        holder.join()
    # Held by another process (another open file description of the lock file).
    other = os.open(tmp_path / "store.db.writers", os.O_RDWR)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(WriteTurnBusy, match="process"), sqlite_writer(engine, wait=False):
            pass
        assert time.monotonic() - started < 1
        # The thread lock was given back with the refusal: this thread may still wait its turn.
        fcntl.flock(other, fcntl.LOCK_UN)
        with sqlite_writer(engine):
            pass
    finally:
        os.close(other)
