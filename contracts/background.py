"""A daemon thread that repeats one unit of background work until it is stopped."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class PollingWorker:
    """Runs ``work_once`` in a daemon thread: again at once while it says more is waiting, else
    after ``poll_interval`` seconds. A failing round is logged and retried, never fatal."""

    thread_name = "tillit-worker"

    def __init__(self, *, poll_interval: float) -> None:
        self.poll_interval = poll_interval
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
        while not self._stop.is_set():
            try:
                more = self.work_once()
            except Exception:  # a database hiccup must not end the work for good
                log.exception("%s failed; retrying", self.thread_name)
                more = False
            if not more and self._stop.wait(self.poll_interval):
                break
