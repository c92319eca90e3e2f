"""Concurrent writers, as threads or as separate processes, append to one unforked chain."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from broker.audit import audit_log, audit_transaction, verify_chain
from contracts.store import WriteTurnBusy, make_engine
from tests.broker.audit.workers import append_records
from tests.schema import prepare_store

PER_WRITER = 60
WRITERS = ("lahti-education", "phhyky-family-services")


def assert_one_complete_chain(url: str) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        report = verify_chain(conn)
        jtis = conn.execute(sa.select(audit_log.c.jti)).scalars().all()
        seqs = conn.execute(sa.select(audit_log.c.seq).order_by(audit_log.c.seq)).scalars().all()
    engine.dispose()
    total = PER_WRITER * len(WRITERS)
    assert report.ok, report.problem
    assert report.length == total
    assert seqs == list(range(1, total + 1))
    expected = {f"{writer}-{index}" for writer in WRITERS for index in range(PER_WRITER)}
    assert Counter(jtis) == Counter(expected), "every record is present exactly once"


def run_in_processes(url: str) -> None:
    context = multiprocessing.get_context("spawn")
    start_together = context.Barrier(len(WRITERS))
    workers = [
        context.Process(target=append_records, args=(url, writer, PER_WRITER, start_together))
        for writer in WRITERS
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * len(WRITERS)


def test_two_threads_append_to_one_chain(sqlite_url: str) -> None:
    start_together = threading.Barrier(len(WRITERS))
    threads = [
        threading.Thread(
            target=append_records, args=(sqlite_url, writer, PER_WRITER, start_together)
        )
        for writer in WRITERS
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert_one_complete_chain(sqlite_url)


def test_two_processes_append_to_one_sqlite_chain(sqlite_url: str) -> None:
    run_in_processes(sqlite_url)
    assert_one_complete_chain(sqlite_url)


@pytest.mark.postgres
def test_two_processes_append_to_one_postgresql_chain(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    prepare_store(engine)
    engine.dispose()
    run_in_processes(postgres_url)
    assert_one_complete_chain(postgres_url)


def test_an_audit_transaction_that_must_not_wait_writes_nothing_when_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    outside = sqlite3.connect(path, isolation_level=None)
    outside.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(WriteTurnBusy), audit_transaction(engine, wait=False) as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    assert time.monotonic() - started < 1
    outside.execute("COMMIT")
    outside.close()
    # SQLite's busy wait is back for the next writer on that connection.
    with audit_transaction(engine, wait=False) as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30000
        conn.execute(sa.text("INSERT INTO t VALUES (2)"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT x FROM t")).scalars().all() == [2]


def test_an_audit_transaction_on_postgresql_always_waits_its_turn() -> None:
    engine = sa.create_engine("postgresql+psycopg://db/tillit")
    with pytest.raises(ValueError, match="SQLite"), audit_transaction(engine, wait=False):
        pass
