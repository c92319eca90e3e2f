"""Several shippers over one outbox, as threads or processes, store every event exactly once."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openlineage.client.serde import Serde

from contracts.store import make_engine
from lineage.outbox import OutboxShipper, enqueue, lineage_outbox, pending_count
from lineage.store import LineageEvent, PreparedEvents, event_id, lineage_events
from lineage.transports import TillitStoreConfig, TillitStoreTransport
from tests.lineage.test_store import T0, share_event
from tests.schema import prepare_store

EVENTS = 150
SHIPPERS = 2


class CountingStoreTransport(TillitStoreTransport):
    """The Tillit store transport, remembering which events this shipper delivered."""

    def __init__(self, url: str) -> None:
        super().__init__(TillitStoreConfig(database_url=url))
        self.delivered: list[str] = []

    def emit(self, event: Any) -> bool:
        stored = super().emit(event)
        self.delivered.append(event_id(Serde.to_dict(event)))
        return stored

    def record_in(
        self,
        conn: Any,
        events: Sequence[LineageEvent],
        now: datetime,
        ids: Sequence[str] | None = None,
    ) -> None:
        super().record_in(conn, events, now, ids=ids)
        self.delivered.extend(map(event_id, events))

    def write_in(self, conn: Any, prepared: PreparedEvents) -> None:
        super().write_in(conn, prepared)
        self.delivered.extend(row["event_id"] for row in prepared.events.rows)


def ship_until_empty(url: str, start_together: Any, report: str | None = None) -> list[str]:
    """Ship small batches until the outbox is empty; the ids this shipper delivered."""
    engine = make_engine(url)
    transport = CountingStoreTransport(url)
    shipper = OutboxShipper(engine, transport, time.time, batch_size=7)
    start_together.wait()
    # Lockstep rounds: every shipper claims a batch in every round, so both really take part
    # however the machine schedules them; between the two waits nobody ships, so all
    # shippers see the same outbox and stop in the same round.
    for _ in range(EVENTS):
        shipper.ship_once()
        start_together.wait(timeout=60)
        with engine.connect() as conn:
            empty = pending_count(conn) == 0
        start_together.wait(timeout=60)
        if empty:
            break
    transport.close()
    engine.dispose()
    if report is not None:
        Path(report).write_text(json.dumps(transport.delivered))
    return transport.delivered


def _fill(url: str) -> list[str]:
    engine = make_engine(url)
    prepare_store(engine)
    events = [share_event(index) for index in range(EVENTS)]
    with engine.begin() as conn:
        for event in events:
            enqueue(conn, event, T0)
    engine.dispose()
    return sorted(map(event_id, events))


def _assert_each_event_stored_and_delivered_once(
    url: str, expected: list[str], runs: list[list[str]]
) -> None:
    delivered = Counter(identity for run in runs for identity in run)
    assert sorted(delivered) == expected
    assert set(delivered.values()) == {1}, "no event was delivered by two shippers"
    assert all(runs), "both shippers took part"
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = sorted(conn.execute(sa.select(lineage_events.c.event_id)).scalars())
        undelivered = conn.execute(
            sa.select(sa.func.count()).where(lineage_outbox.c.delivered_at.is_(None))
        ).scalar_one()
    engine.dispose()
    assert stored == expected and undelivered == 0


def test_two_shipper_threads_deliver_each_event_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tillit.db'}"
    expected = _fill(url)
    start_together = threading.Barrier(SHIPPERS)
    runs: list[list[str]] = [[] for _ in range(SHIPPERS)]

    def work(slot: int) -> None:
        runs[slot] = ship_until_empty(url, start_together)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(SHIPPERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    _assert_each_event_stored_and_delivered_once(url, expected, runs)


def _ship_in_processes(url: str, tmp_path: Path) -> list[list[str]]:
    context = multiprocessing.get_context("spawn")
    start_together = context.Barrier(SHIPPERS)
    reports = [tmp_path / f"shipper-{slot}.json" for slot in range(SHIPPERS)]
    workers = [
        context.Process(target=ship_until_empty, args=(url, start_together, str(report)))
        for report in reports
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * SHIPPERS
    return [json.loads(report.read_text()) for report in reports]


def test_two_shipper_processes_on_sqlite_deliver_each_event_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tillit.db'}"
    expected = _fill(url)
    _assert_each_event_stored_and_delivered_once(url, expected, _ship_in_processes(url, tmp_path))


@pytest.mark.postgres
def test_two_shipper_processes_on_postgresql_deliver_each_event_once(
    postgres_url: str, tmp_path: Path
) -> None:
    expected = _fill(postgres_url)
    runs = _ship_in_processes(postgres_url, tmp_path)
    _assert_each_event_stored_and_delivered_once(postgres_url, expected, runs)
