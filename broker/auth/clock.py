"""An injectable clock, so token checks and caches are deterministic under test."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Returns the current time as seconds since the Unix epoch."""

    def __call__(self) -> float: ...


def system_clock() -> float:
    """The real wall clock (the only place auth code reads it)."""
    return time.time()
