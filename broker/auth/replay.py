"""Replay protection: each token id (`jti`) of an issuer authorises exactly one request."""

from __future__ import annotations

import heapq
import threading
from typing import Protocol

from sqlalchemy.engine import Connection

from broker.auth.clock import Clock
from broker.errors import ServiceUnavailable


class ReplayCache(Protocol):
    """Records token ids; must be atomic across every worker that verifies tokens."""

    def add(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record (issuer, jti) until `expires_at`; False if it was already recorded."""
        ...

    def add_in(self, conn: Connection, issuer: str, jti: str, expires_at: float) -> bool:
        """`add` inside the caller's open write transaction: the id is spent if, and only if,
        that transaction commits (a cache outside the database spends it at once)."""
        ...


class InMemoryReplayCache:
    """A bounded, thread-safe replay cache for a single process; entries expire with the token."""

    def __init__(self, clock: Clock, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._expiry: dict[tuple[str, str], float] = {}
        self._heap: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._purge(self._clock())
            return len(self._expiry)

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            _, issuer, jti = heapq.heappop(self._heap)
            self._expiry.pop((issuer, jti), None)

    def add(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record (issuer, jti) until `expires_at`; False if it was already recorded."""
        key = (issuer, jti)
        with self._lock:
            self._purge(self._clock())
            if key in self._expiry:
                return False
            if len(self._expiry) >= self._max_entries:
                # Evicting a live entry would reopen a replay window, so refuse instead.
                raise ServiceUnavailable("replay protection is at capacity; retry shortly")
            self._expiry[key] = expires_at
            heapq.heappush(self._heap, (expires_at, issuer, jti))
            return True

    def add_in(self, conn: Connection, issuer: str, jti: str, expires_at: float) -> bool:
        """Spent at once: this process's memory is not part of the caller's transaction."""
        del conn
        return self.add(issuer, jti, expires_at)
