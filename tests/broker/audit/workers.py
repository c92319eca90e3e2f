"""Worker processes that append to one audit chain at the same time (spawned by the tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from broker.audit import append, audit_transaction
from contracts.store import make_engine
from tests.broker.audit.helpers import make_entry


def append_records(url: str, partner: str, count: int, start_together: Any) -> None:
    """Append ``count`` records as ``partner``, one transaction each, after the start signal."""
    engine = make_engine(url)
    start_together.wait()
    for index in range(count):
        with audit_transaction(engine) as conn:
            append(conn, make_entry(index, partner=partner), datetime.now(UTC))
    engine.dispose()
