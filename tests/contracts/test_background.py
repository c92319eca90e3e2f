"""Background work: one process at a time runs a kind of work on a SQLite database, and a
stopped or dead holder hands it over."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from contracts.background import PollingWorker, RunnerLock, runner_lock
from contracts.store import make_engine


class _Counting(PollingWorker):
    thread_name = "counting"

    def __init__(self, lock: RunnerLock | None) -> None:
        super().__init__(poll_interval=0.02, runner_lock=lock)
        self.rounds = 0
        self.ran = threading.Event()

    def work_once(self) -> bool:
        self.rounds += 1
        self.ran.set()
        return False


def test_one_holder_at_a_time_and_the_next_takes_over(tmp_path: Path) -> None:
    path = str(tmp_path / "store.db.shipper.lock")
    first, second = RunnerLock(path), RunnerLock(path)
    assert first.held()
    assert first.held()  # held, not taken again
    assert not second.held()
    first.release()
    assert second.held()
    assert not first.held()


def test_a_dead_holder_hands_the_work_over(tmp_path: Path) -> None:
    path = str(tmp_path / "store.db.shipper.lock")
    holder = subprocess.Popen(  # noqa: S603 - our own interpreter
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from contracts.background import RunnerLock\n"
            f"assert RunnerLock({path!r}).held()\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        lock = RunnerLock(path)
        assert not lock.held()
    finally:
        holder.kill()
        holder.wait()
    assert lock.held()


def test_a_worker_works_only_while_its_process_holds_the_lock(tmp_path: Path) -> None:
    path = str(tmp_path / "store.db.indexer.lock")
    other = RunnerLock(path)
    assert other.held()
    worker = _Counting(RunnerLock(path))
    worker.start()
    try:
        time.sleep(0.2)
        assert worker.rounds == 0
        other.release()
        assert worker.ran.wait(5)
    finally:
        assert worker.stop(timeout=5)
    # Stopping hands the lock back.
    assert other.held()


def test_sqlite_files_get_a_lock_and_shared_servers_none(tmp_path: Path) -> None:
    on_disk = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    lock = runner_lock(on_disk, "lineage-shipper")
    assert lock is not None and lock.path == f"{tmp_path / 'store.db'}.lineage-shipper.lock"
    assert runner_lock(make_engine("sqlite://"), "lineage-shipper") is None
    assert runner_lock(make_engine("sqlite:///:memory:"), "lineage-shipper") is None


@pytest.mark.postgres
def test_postgresql_workers_share_the_work_without_a_lock(postgres_url: str) -> None:
    assert runner_lock(make_engine(postgres_url), "lineage-shipper") is None
