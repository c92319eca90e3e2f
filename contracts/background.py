"""A daemon thread that repeats one unit of background work until it is stopped, the lock
that lets one process on a machine run a kind of background work on a SQLite database, and
the background checkpointer of a SQLite database's write-ahead log."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Literal

try:
    import fcntl
except ImportError:  # Windows: every process runs its background work
    fcntl = None  # type: ignore[assignment]

from sqlalchemy.engine import Engine

from contracts.store import BUSY_TIMEOUT_MS, sqlite_file, sqlite_writer

log = logging.getLogger(__name__)


class RunnerLock:
    """The right to be the one process running one kind of background work on one SQLite
    database: an exclusive flock on a file beside the database, taken without waiting and then
    held while the process lives. When the holder ends (or stops the work), the kernel frees
    the lock and the next worker to try takes the work over.

    SQLite admits one writer: several uvicorn workers each running a lineage shipper or a
    disclosure indexer only queue behind one another for the write lock, each with half the
    batch, and every commit empties the other connections' page caches.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    def held(self) -> bool:
        """Whether this process holds the lock, taking it if it is free."""
        if fcntl is None:
            return True
        if self._fd is not None and self._pid == os.getpid():
            return True
        # A descriptor inherited through fork shares its lock with the parent: open our own.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd, self._pid = fd, os.getpid()
        log.info("this process (pid %s) now holds %s", self._pid, self.path)
        return True

    def release(self) -> None:
        """Let another process take the work (closing the file frees the flock)."""
        fd, self._fd = self._fd, None
        if fd is not None and self._pid == os.getpid():
            os.close(fd)


def runner_lock(engine: Engine, kind: str) -> RunnerLock | None:
    """The lock for one kind of background work on the engine's SQLite file; None where every
    process may run it (PostgreSQL, whose workers share batches with SKIP LOCKED, or an
    in-memory SQLite database, which no other process sees)."""
    database = _sqlite_file_of(engine)
    return RunnerLock(f"{database}.{kind}.lock") if database else None


def _sqlite_file_of(engine: Engine) -> str | None:
    """The engine's SQLite file on disk; None for a server or an in-memory database."""
    return sqlite_file(engine.url) if engine.dialect.name == "sqlite" else None


def has_write_ahead_log(engine: Engine) -> bool:
    """Whether the engine's database is a SQLite file, whose log `WalCheckpointer` copies."""
    return _sqlite_file_of(engine) is not None


class PollingWorker:
    """Runs ``work_once`` in a daemon thread: again at once while it says more is waiting, else
    after ``poll_interval`` seconds. A failing round is logged and retried, never fatal.

    With a ``runner_lock``, it works only while this process holds the lock, and tries to take
    it at every pause.
    """

    thread_name = "tillit-worker"

    def __init__(self, *, poll_interval: float, runner_lock: RunnerLock | None = None) -> None:
        self.poll_interval = poll_interval
        self.runner_lock = runner_lock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def work_once(self) -> bool:
        """Do one round of work; True if more may be waiting (a full round)."""
        raise NotImplementedError

    def start(self) -> None:
        """Work in a daemon thread until stop() is called."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop after the batch in flight; True if the thread has ended."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                more = False
                if self.runner_lock is None or self.runner_lock.held():
                    try:
                        more = self.work_once()
                    except Exception:  # a database hiccup must not end the work for good
                        log.exception("%s failed; retrying", self.thread_name)
                if not more and self._stop.wait(self.poll_interval):
                    break
        finally:
            if self.runner_lock is not None:
                self.runner_lock.release()


CheckpointMode = Literal["PASSIVE", "RESTART"]


@dataclass(frozen=True)
class Checkpoint:
    """What one PASSIVE checkpoint reported, in frames (pages) of the write-ahead log."""

    busy: bool
    log_frames: int
    checkpointed: int


class WalCheckpointer(PollingWorker):
    """Copies a SQLite database's write-ahead log back into the database file in a background
    thread, so that committing writers need not.

    SQLite checkpoints automatically in the commit that takes the log past a threshold, while
    that writer still holds the write turn (`contracts.store.sqlite_writer`), and every other
    writer of every process waits for it: under the throughput benchmark's load, a checkpoint
    of about 10 ms every second batch of the lineage shipper, with the workers idle meanwhile.
    Here a PASSIVE checkpoint, which waits for no reader and no writer, copies the log outside
    the turn (SQLite's driver releases the GIL meanwhile), and engines of a process that runs
    one raise SQLite's own threshold (``make_engine(url,
    wal_autocheckpoint=BACKGROUND_AUTOCHECKPOINT_PAGES)``), which then only catches a log that
    outgrows what this thread keeps up with.

    The log only starts again from its beginning when a writer begins after a checkpoint has
    copied all of it and no reader still reads from it. With writers taking the turn one after
    another that never happens while they are busy, and the log would grow for as long as the
    load lasts. So once the log holds ``restart_frames``, the round ends with a RESTART
    checkpoint inside the write turn: it copies what was committed since the first, waits up
    to ``restart_wait`` seconds for the readers of older snapshots to finish (new ones read
    the database file), and the next writer starts the log again. If a reader takes longer
    (a long export), the turn is given back and a later round tries again.
    """

    thread_name = "wal-checkpointer"

    def __init__(
        self,
        engine: Engine,
        *,
        poll_interval: float,
        restart_frames: int = 4000,
        restart_wait: float = 0.02,
        runner_lock: RunnerLock | None = None,
    ) -> None:
        if not has_write_ahead_log(engine):
            raise ValueError("only a SQLite database on disk has a write-ahead log to checkpoint")
        super().__init__(poll_interval=poll_interval, runner_lock=runner_lock)
        self.engine = engine
        self.restart_frames = restart_frames
        self.restart_wait = restart_wait
        self.last: Checkpoint | None = None

    def work_once(self) -> bool:
        """One PASSIVE checkpoint, and a RESTART in the write turn once the log is long; never
        more at once (what readers still hold stays for the next round)."""
        result = self.checkpoint()
        if result.log_frames >= self.restart_frames:
            with sqlite_writer(self.engine):
                result = self.checkpoint("RESTART", wait=self.restart_wait)
        self.last = result
        return False

    def checkpoint(self, mode: CheckpointMode = "PASSIVE", *, wait: float = 0) -> Checkpoint:
        """Run one checkpoint now and return what SQLite reported; a RESTART waits up to
        `wait` seconds for readers (SQLite's busy handler) before it reports itself busy."""
        with self.engine.connect() as conn:
            if mode == "RESTART":
                conn.exec_driver_sql(f"PRAGMA busy_timeout={max(1, round(wait * 1000))}")
            try:
                busy, log_frames, checkpointed = conn.exec_driver_sql(
                    f"PRAGMA wal_checkpoint({mode})"
                ).one()
            finally:
                if mode == "RESTART":
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return Checkpoint(bool(busy), int(log_frames), int(checkpointed))
