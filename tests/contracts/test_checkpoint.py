"""The background checkpointer of a SQLite store's write-ahead log: commits leave the log to
it, and it copies the log into the database file without waiting for readers."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from contracts.background import WalCheckpointer
from contracts.store import (
    BACKGROUND_AUTOCHECKPOINT_PAGES,
    BUSY_TIMEOUT_MS,
    make_engine,
    sqlite_writer,
)

# Well past SQLite's default threshold of 1,000 pages (4 KB each), well short of ours.
_BLOBS, _BLOB_BYTES = 80, 100_000


def _write(engine: sa.Engine, start: int = 0) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, b BLOB)")
        conn.exec_driver_sql(
            "INSERT INTO blobs (id, b) VALUES (?, ?)",
            [(start + n, os.urandom(_BLOB_BYTES)) for n in range(_BLOBS)],
        )


def _engine(path: Path) -> sa.Engine:
    """An engine that leaves its log to a checkpointer, as the broker's do."""
    return make_engine(f"sqlite:///{path}", wal_autocheckpoint=BACKGROUND_AUTOCHECKPOINT_PAGES)


def _size(path: Path) -> int:
    return path.stat().st_size


def test_engines_take_sqlites_threshold_unless_told_otherwise(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    for engine, pages in (
        (make_engine(url), 1000),
        (make_engine(url, wal_autocheckpoint=BACKGROUND_AUTOCHECKPOINT_PAGES), 10_000),
    ):
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == pages
        engine.dispose()


def test_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    written = _BLOBS * _BLOB_BYTES
    # SQLite's own threshold: the commit that crosses it copies the log into the file.
    by_commit = tmp_path / "by-commit.db"
    _write(make_engine(f"sqlite:///{by_commit}"))
    assert _size(by_commit) > written
    # Ours: the commit only appends to the log; the checkpointer copies it.
    path = tmp_path / "store.db"
    engine = _engine(path)
    _write(engine)
    assert _size(path) < written / 10
    result = WalCheckpointer(engine, poll_interval=1).checkpoint()
    assert not result.busy
    assert result.log_frames > written / 4096
    assert result.checkpointed == result.log_frames
    assert _size(path) > written
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM blobs").scalar() == _BLOBS
    engine.dispose()


def test_a_checkpoint_waits_for_no_reader_and_finishes_once_it_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    engine = _engine(path)
    _write(engine)
    checkpointer = WalCheckpointer(engine, poll_interval=1)
    checkpointer.checkpoint()
    with engine.connect() as reader:
        # A reader in a transaction keeps its snapshot: the frames written after it stay.
        reader.exec_driver_sql("BEGIN")
        assert reader.exec_driver_sql("SELECT count(*) FROM blobs").scalar() == _BLOBS
        _write(engine, start=_BLOBS)
        start = time.perf_counter()
        held = checkpointer.checkpoint()
        assert time.perf_counter() - start < 5  # SQLite's busy timeout here is 30 s
        assert held.checkpointed < held.log_frames
        reader.exec_driver_sql("ROLLBACK")
    done = checkpointer.checkpoint()
    assert done.checkpointed == done.log_frames > 0
    engine.dispose()


def test_the_thread_checkpoints_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    engine = _engine(path)
    checkpointer = WalCheckpointer(engine, poll_interval=0.02)
    checkpointer.start()
    try:
        _write(engine)
        deadline = time.monotonic() + 10
        while _size(path) < _BLOBS * _BLOB_BYTES and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _size(path) > _BLOBS * _BLOB_BYTES
        assert checkpointer.last is not None
    finally:
        assert checkpointer.stop(timeout=10)
    engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_only_a_database_file_has_a_log_to_checkpoint(url: str) -> None:
    with pytest.raises(ValueError, match="SQLite database on disk"):
        WalCheckpointer(make_engine(url), poll_interval=1)


def test_a_long_log_is_restarted_in_the_write_turn_after_the_copy_outside_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    engine = _engine(path)
    _write(engine)
    checkpointer = WalCheckpointer(engine, poll_interval=1, restart_frames=100)
    round_ = threading.Thread(target=checkpointer.work_once)
    with sqlite_writer(engine):
        round_.start()
        # The copy needs no turn; the restart waits for it.
        deadline = time.monotonic() + 10
        while _size(path) < _BLOBS * _BLOB_BYTES and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _size(path) > _BLOBS * _BLOB_BYTES
        time.sleep(0.2)
        assert round_.is_alive() and checkpointer.last is None
    round_.join(10)
    assert checkpointer.last is not None and not checkpointer.last.busy
    # The next writer starts the log again from its beginning.
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO blobs (id, b) VALUES (?, ?)", (10_000, b"x"))
    assert checkpointer.checkpoint().log_frames < 10
    engine.dispose()


def test_a_short_log_needs_no_turn(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "store.db")
    _write(engine)
    checkpointer = WalCheckpointer(engine, poll_interval=1, restart_frames=1_000_000)
    with sqlite_writer(engine):
        round_ = threading.Thread(target=checkpointer.work_once)
        round_.start()
        round_.join(10)
        assert not round_.is_alive()
    assert checkpointer.last is not None
    assert checkpointer.last.checkpointed == checkpointer.last.log_frames > 0
    engine.dispose()


def test_a_restart_gives_up_on_a_long_reader_and_the_wait_is_put_back(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "store.db")
    _write(engine)
    checkpointer = WalCheckpointer(engine, poll_interval=1, restart_wait=0.05)
    with engine.connect() as reader:
        reader.exec_driver_sql("BEGIN")
        reader.exec_driver_sql("SELECT count(*) FROM blobs").scalar()
        _write(engine, start=_BLOBS)
        start = time.perf_counter()
        result = checkpointer.checkpoint("RESTART", wait=checkpointer.restart_wait)
        assert time.perf_counter() - start < 5
        assert result.busy
        reader.exec_driver_sql("ROLLBACK")
    # Both pooled connections (the reader's and the checkpoint's) wait as long as before.
    with engine.connect() as one, engine.connect() as other:
        for conn in (one, other):
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS
    done = checkpointer.checkpoint("RESTART", wait=checkpointer.restart_wait)
    assert not done.busy and done.checkpointed == done.log_frames
    engine.dispose()
