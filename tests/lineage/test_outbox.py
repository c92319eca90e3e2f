"""The outbox keeps lineage events with the transaction that caused them and never loses one."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openlineage.client.serde import Serde
from openlineage.client.transport import Transport
from sqlalchemy.engine import Engine

from broker.audit import append, audit_log, audit_transaction
from contracts.registry import get_contract
from contracts.store import WriteTurnBusy, sqlite_writer
from lineage.events import PipelineRun, pipeline_complete, share_complete, to_dict
from lineage.outbox import OutboxShipper, enqueue, lineage_outbox, pending_count, purge_delivered
from lineage.store import (
    LineageStore,
    event_id,
    lineage_column_edges,
    lineage_dataset_edges,
    lineage_events,
)
from lineage.transports import TillitStoreConfig, TillitStoreTransport, run_event_from_dict
from lineage.validation import validate_event
from orchestration.legacy.drop import FILES
from tests.broker.audit.helpers import make_entry
from tests.lineage.test_store import T0, FakeClock, lineage_engine, share_event


class RecordingTransport(Transport):
    """Keeps what it is given; fails the first ``failures`` emits."""

    kind = "recording"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.events: list[dict[str, Any]] = []

    def emit(self, event: Any) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("lineage backend unavailable")
        self.events.append(Serde.to_dict(event))


class BlockingTransport(RecordingTransport):
    """Holds the first emit until released, to stop the shipper with an event in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def emit(self, event: Any) -> None:
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(timeout=10)
        super().emit(event)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite store with the audit and lineage tables."""
    engine = lineage_engine(tmp_path)
    yield engine
    engine.dispose()


def _outbox(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(lineage_outbox).order_by(lineage_outbox.c.id))
        return [dict(row._mapping) for row in rows]


def _fill(engine: Engine, count: int) -> list[dict[str, Any]]:
    events = [share_event(index) for index in range(count)]
    with engine.begin() as conn:
        for event in events:
            enqueue(conn, event, T0)
    return events


def test_the_due_batch_is_read_from_its_own_index_on_sqlite(engine: Engine) -> None:
    # Not the delivery-time index, through which SQLite read and sorted every queued event.
    _fill(engine, 5)
    transport = TillitStoreTransport(TillitStoreConfig(str(engine.url)), LineageStore(engine))
    shipper = OutboxShipper(engine, transport, FakeClock())
    executed: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        executed.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", remember)
    with engine.connect() as conn:
        assert len(conn.execute(shipper._due_batch(T0 + timedelta(seconds=1))).all()) == 5
        statement, parameters = executed[-1]
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    assert [row[3] for row in plan] == [
        "SEARCH lineage_outbox USING INDEX ix_lineage_outbox_due (next_attempt_at<?)"
    ]


def test_a_rolled_back_share_leaves_neither_audit_record_nor_lineage_event(engine: Engine) -> None:
    with (
        pytest.raises(RuntimeError, match="response could not be sent"),
        audit_transaction(engine) as conn,
    ):
        append(conn, make_entry(0), T0)
        enqueue(conn, share_event(0), T0)
        raise RuntimeError("response could not be sent")
    with audit_transaction(engine) as conn:
        append(conn, make_entry(2), T0)
        kept = enqueue(conn, share_event(2), T0)

    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one() == 1
    assert [row["event_id"] for row in _outbox(engine)] == [kept]


def test_enqueuing_an_event_twice_keeps_one_row_and_the_transaction(engine: Engine) -> None:
    event = share_event(0)
    with audit_transaction(engine) as conn:
        append(conn, make_entry(0), T0)
        assert enqueue(conn, event, T0) == enqueue(conn, event, T0) == event_id(event)
    assert len(_outbox(engine)) == 1


def test_an_event_no_transport_could_send_is_refused_at_enqueue(engine: Engine) -> None:
    event = share_event(0)
    event["run"]["runId"] = "shr_0001"
    with pytest.raises(ValueError), engine.begin() as conn:
        enqueue(conn, event, T0)
    assert _outbox(engine) == []


def test_a_flaky_backend_gets_the_event_once_after_growing_backoffs(engine: Engine) -> None:
    (event,) = _fill(engine, 1)
    clock, transport = FakeClock(), RecordingTransport(failures=4)
    shipper = OutboxShipper(engine, transport, clock, backoff_base=2.0, rng=random.Random(7))

    delays = []
    for attempt in range(1, 5):
        assert shipper.ship_once() == 0
        (row,) = _outbox(engine)
        assert (row["attempts"], row["delivered_at"]) == (attempt, None)
        assert "lineage backend unavailable" in row["last_error"]
        delay = row["next_attempt_at"].replace(tzinfo=None) - clock.at().replace(tzinfo=None)
        delays.append(delay.total_seconds())
        assert shipper.ship_once() == 0, "not retried before its backoff has passed"
        clock.advance(delays[-1])

    assert shipper.ship_once() == 1
    assert transport.events == [event]
    (row,) = _outbox(engine)
    assert row["attempts"] == 4 and row["delivered_at"] is not None
    assert delays == sorted(delays)
    for attempt, delay in enumerate(delays, start=1):
        ceiling = 2.0 * 2 ** (attempt - 1)
        assert ceiling / 2 <= delay <= ceiling
    assert shipper.ship_once() == 0 and transport.events == [event]


def test_backoff_is_capped(engine: Engine) -> None:
    shipper = OutboxShipper(engine, RecordingTransport(), FakeClock(), backoff_max=300.0)
    assert all(150.0 <= shipper.backoff(attempts) <= 300.0 for attempts in (10, 40, 2000))


def test_after_a_failure_the_rest_of_the_batch_is_handed_back_untried(engine: Engine) -> None:
    events = _fill(engine, 5)
    clock, transport = FakeClock(), RecordingTransport(failures=1)
    shipper = OutboxShipper(engine, transport, clock)

    assert shipper.ship_once() == 0
    assert [row["attempts"] for row in _outbox(engine)] == [1, 0, 0, 0, 0]
    assert shipper.ship_once() == 4, "the others are due again at once"
    clock.advance(shipper.backoff_max)
    assert shipper.ship_once() == 1
    assert sorted(event_id(event) for event in transport.events) == sorted(map(event_id, events))


def test_batches_are_delivered_oldest_first(engine: Engine) -> None:
    events = _fill(engine, 7)
    transport = RecordingTransport()
    shipper = OutboxShipper(engine, transport, FakeClock(), batch_size=3)
    assert [shipper.ship_once() for _ in range(4)] == [3, 3, 1, 0]
    assert transport.events == events


def test_stopping_mid_flight_finishes_the_event_and_hands_back_the_rest(engine: Engine) -> None:
    events = _fill(engine, 4)
    transport = BlockingTransport()
    shipper = OutboxShipper(engine, transport, FakeClock(), poll_interval=0.01)
    shipper.start()
    assert transport.entered.wait(timeout=10)

    assert shipper.stop(timeout=0) is False, "still delivering the event in flight"
    transport.release.set()
    assert shipper.stop(timeout=10) is True

    assert transport.events == events[:1]
    rows = _outbox(engine)
    assert [row["delivered_at"] is not None for row in rows] == [True, False, False, False]
    assert pending_count_now(engine) == 3
    later = RecordingTransport()
    assert OutboxShipper(engine, later, FakeClock()).ship_once() == 3, "no lease to wait out"
    assert later.events == events[1:]


def pending_count_now(engine: Engine) -> int:
    """Undelivered events."""
    with engine.connect() as conn:
        return pending_count(conn)


def test_the_background_thread_delivers_what_is_enqueued_later(engine: Engine) -> None:
    arrived = threading.Event()

    class Signalling(RecordingTransport):
        def emit(self, event: Any) -> None:
            super().emit(event)
            if len(self.events) == 3:
                arrived.set()

    transport = Signalling()
    shipper = OutboxShipper(engine, transport, FakeClock(), poll_interval=0.01)
    shipper.start()
    try:
        events = _fill(engine, 3)
        assert arrived.wait(timeout=10)
    finally:
        assert shipper.stop(timeout=10)
    assert transport.events == events


def test_purging_removes_only_delivered_rows(engine: Engine) -> None:
    _fill(engine, 3)
    OutboxShipper(engine, RecordingTransport(), FakeClock(), batch_size=2).ship_once()
    assert purge_delivered(engine, T0 + timedelta(seconds=1)) == 2
    assert len(_outbox(engine)) == 1 and pending_count_now(engine) == 1


def test_pipeline_and_share_events_reach_the_store_unchanged_and_valid(engine: Engine) -> None:
    persons = get_contract("persons")
    run = PipelineRun(
        "5f0c9a52-7d1e-4c55-9b7a-2f0de3c1a001", "nightly_load", "persons", persons, FILES
    )
    load = to_dict(pipeline_complete(run, T0, rows_loaded=10, rows_quarantined=0, check_results=[]))
    share = to_dict(
        share_complete(
            share_id="0b6f7c1e-3a52-4f7e-9d1a-5c2b8e4f6a10",
            contract=persons,
            partner="lahti-education",
            purpose="ece_placement",
            legal_basis="ecec-act-540-2018",
            agreement_id="lahti-education-ece",
            agreement_version="1.2.0",
            fields_released=["district"],
            withheld=[],
            transforms={},
            audit_seq=1,
            audit_hash="ab" * 32,
            row_count=10,
            event_time=T0 + timedelta(hours=1),
        )
    )
    with engine.begin() as conn:
        enqueue(conn, load, T0)
        enqueue(conn, share, T0)
    store = LineageStore(engine)
    transport = TillitStoreTransport(TillitStoreConfig(str(engine.url)), store)
    assert OutboxShipper(engine, transport, FakeClock()).ship_once() == 2

    for event in (load, share):
        assert to_dict(run_event_from_dict(event)) == event
        assert validate_event(to_dict(run_event_from_dict(event))) == []
    with engine.connect() as conn:
        district = conn.execute(
            sa.select(lineage_column_edges.c.output_namespace, lineage_column_edges.c.input_field)
            .where(lineage_column_edges.c.output_field == "district")
            .order_by(lineage_column_edges.c.output_namespace)
        ).all()
    assert ("tillit://partner/lahti-education", "district") in district
    assert ("tillit://store", "POSTINUMERO") in district


class _RefusingBatches(TillitStoreTransport):
    """The store transport whose batch path fails (one event per emit still works)."""

    def record_in(self, conn: Any, events: Any, now: Any, ids: Any = None) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("batch refused"))

    def write_in(self, conn: Any, prepared: Any) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("batch refused"))


def test_a_batch_into_this_databases_store_is_stored_and_marked_at_once(engine: Engine) -> None:
    events = _fill(engine, 5)
    store = LineageStore(engine)
    transport = TillitStoreTransport(TillitStoreConfig(str(engine.url)), store)
    statements: list[str] = []
    sa.event.listen(engine, "commit", lambda conn: statements.append("COMMIT"))
    clock = FakeClock()
    assert OutboxShipper(engine, transport, clock, batch_size=3).ship_once() == 3
    # One transaction read, stored and marked the batch: no lease was written first.
    assert statements == ["COMMIT"]
    rows = _outbox(engine)
    delivered = [row for row in rows if row["delivered_at"] is not None]
    assert [row["event_id"] for row in delivered] == [event_id(e) for e in events[:3]]
    assert {row["attempts"] for row in rows} == {0}
    assert {row["next_attempt_at"] for row in rows} == {T0.replace(tzinfo=None)}
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(lineage_events)).scalar_one()
    assert stored == 3


def test_a_batch_the_store_refuses_is_stored_event_by_event(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    events = _fill(engine, 4)
    transport = _RefusingBatches(TillitStoreConfig(str(engine.url)), LineageStore(engine))
    assert OutboxShipper(engine, transport, FakeClock()).ship_once() == 4
    assert "storing event by event" in caplog.text
    assert pending_count_now(engine) == 0
    with engine.connect() as conn:
        stored = set(conn.execute(sa.select(lineage_events.c.event_id)).scalars())
    assert stored == {event_id(event) for event in events}


def test_a_batch_with_an_event_stored_already_is_stored_event_by_event_once(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    events = _fill(engine, 4)
    store = LineageStore(engine)
    assert store.record(events[2]) is True
    transport = TillitStoreTransport(TillitStoreConfig(str(engine.url)), store)
    assert OutboxShipper(engine, transport, FakeClock()).ship_once() == 4
    assert "storing event by event" in caplog.text
    assert pending_count_now(engine) == 0
    with engine.connect() as conn:
        stored = list(conn.execute(sa.select(lineage_events.c.event_id)).scalars())
        edges = conn.execute(sa.select(sa.func.count()).select_from(lineage_dataset_edges))
        # Each share event has one input and one output: no edge was written twice.
        assert edges.scalar_one() == 2 * len(events)
    assert sorted(stored) == sorted(event_id(event) for event in events)


def test_a_batch_is_read_and_made_into_rows_outside_the_write_turn(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(engine, 3)
    transport = TillitStoreTransport(TillitStoreConfig(str(engine.url)), LineageStore(engine))
    prepare = transport.prepare
    turn_free: list[bool] = []

    def probe() -> None:
        try:
            with sqlite_writer(engine, wait=False):
                turn_free.append(True)
        except WriteTurnBusy:
            turn_free.append(False)

    def watched(*args: Any, **kwargs: Any) -> Any:
        # Another thread could take the turn while the batch is made into rows.
        other = threading.Thread(target=probe)
        other.start()
        other.join(10)
        return prepare(*args, **kwargs)

    monkeypatch.setattr(transport, "prepare", watched)
    assert OutboxShipper(engine, transport, FakeClock()).ship_once() == 3
    assert turn_free == [True]
    assert pending_count_now(engine) == 0
