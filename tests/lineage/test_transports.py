"""Outbox delivery to a Marquez-compatible endpoint that fails or hangs, and to composites."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openlineage.client.transport import CompositeTransport, HttpTransport
from sqlalchemy.engine import Engine

from broker.audit import append, audit_transaction
from lineage.outbox import OutboxShipper, enqueue, lineage_outbox, pending_count
from lineage.store import event_id, lineage_events
from lineage.transports import build_transport, run_event_from_dict
from tests.broker.audit.helpers import make_entry
from tests.lineage.test_store import T0, FakeClock, lineage_engine, run_event, share_event


class MarquezStub:
    """A Marquez-compatible endpoint on 127.0.0.1 that can answer 500 or never answer."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.hang = False
        self.accepted: list[dict[str, Any]] = []
        self.refused = 0
        self.requests: list[tuple[str, str]] = []
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stub.requests.append((self.path, self.headers["Content-Type"]))
                stub.arrived.set()
                if stub.hang:
                    stub.release.wait(timeout=30)
                    return
                with stub._lock:
                    failing = stub.failures > 0
                    if failing:
                        stub.failures -= 1
                        stub.refused += 1
                    else:
                        stub.accepted.append(json.loads(body))
                self.send_response(500 if failing else 201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Keep the test output quiet."""

        return Handler

    def close(self) -> None:
        """Let a hung request go and stop serving."""
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def marquez() -> Iterator[MarquezStub]:
    """A Marquez stand-in that accepts every event."""
    stub = MarquezStub()
    yield stub
    stub.close()


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A fresh SQLite store; the working directory holds no stray openlineage.yml."""
    monkeypatch.chdir(tmp_path)
    engine = lineage_engine(tmp_path)
    yield engine
    engine.dispose()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _ship_all(shipper: OutboxShipper, clock: FakeClock, rounds: int = 50) -> None:
    for _ in range(rounds):
        shipper.ship_once()
        with shipper.engine.connect() as conn:
            if pending_count(conn) == 0:
                return
        clock.advance(shipper.backoff_max)
    raise AssertionError("events still pending")


def _share(engine: Engine, index: int) -> dict[str, Any]:
    event = share_event(index)
    with audit_transaction(engine) as conn:
        append(conn, make_entry(2 * index), T0)
        enqueue(conn, event, T0)
    return event


def _stored_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(lineage_events.c.event_id)).scalars())


def test_openlineage_url_selects_http_to_the_marquez_lineage_endpoint(
    engine: Engine, marquez: MarquezStub
) -> None:
    transport = build_transport(_url(engine), environ={"OPENLINEAGE_URL": marquez.url})
    assert isinstance(transport, HttpTransport)
    event = run_event()
    transport.emit(run_event_from_dict(event))
    assert marquez.requests == [("/api/v1/lineage", "application/json")]
    assert marquez.accepted == [event]


def test_marquez_receives_exactly_the_enqueued_events_despite_500s(engine: Engine) -> None:
    marquez = MarquezStub(failures=3)
    try:
        events = [_share(engine, index) for index in range(6)]
        clock = FakeClock()
        transport = build_transport(_url(engine), environ={"OPENLINEAGE_URL": marquez.url})
        _ship_all(OutboxShipper(engine, transport, clock), clock)
    finally:
        marquez.close()
    assert marquez.refused == 3
    assert sorted(map(event_id, marquez.accepted)) == sorted(map(event_id, events))
    by_id = {event_id(event): event for event in marquez.accepted}
    assert all(by_id[event_id(event)] == event for event in events), "bodies arrive unchanged"


def _timed_shares(engine: Engine, indexes: range) -> list[float]:
    durations = []
    for index in indexes:
        started = time.perf_counter()
        _share(engine, index)
        durations.append(time.perf_counter() - started)
    return durations


def test_a_hanging_backend_times_out_is_retried_and_never_slows_shares(engine: Engine) -> None:
    timeout = 1.0
    marquez = MarquezStub()
    marquez.hang = True
    environ = {
        "OPENLINEAGE__TRANSPORT__TYPE": "http",
        "OPENLINEAGE__TRANSPORT__URL": marquez.url,
        "OPENLINEAGE__TRANSPORT__TIMEOUT": str(timeout),
    }
    try:
        _timed_shares(engine, range(0, 20))
        clock = FakeClock()
        shipper = OutboxShipper(engine, build_transport(_url(engine), environ=environ), clock)
        results: list[int] = []
        shipping = threading.Thread(target=lambda: results.append(shipper.ship_once()))
        shipping.start()
        assert marquez.arrived.wait(timeout=10), "the shipper is waiting on the backend"
        _timed_shares(engine, range(20, 40))
        # Shares commit while the shipper is stuck on the backend; how little they are slowed
        # is measured by the lineage_overhead_slow_backend benchmark, not asserted here.
        shipping.join(timeout=30)
        assert results == [0]
        marquez.release.set()

        with engine.connect() as conn:
            row = conn.execute(sa.select(lineage_outbox).order_by(lineage_outbox.c.id)).first()
        assert row is not None and row.attempts == 1 and "timed out" in row.last_error

        marquez.hang = False
        _ship_all(shipper, clock)
    finally:
        marquez.close()
    assert len(marquez.accepted) == 40
    assert _stored_ids(engine) == [], "HTTP alone configured: the Tillit store is not written"


def test_a_composite_of_file_and_tillit_store_writes_to_both(
    engine: Engine, tmp_path: Path
) -> None:
    log_file = tmp_path / "lineage.jsonl"
    config = tmp_path / "openlineage.yml"
    config.write_text(
        "transport:\n"
        "  type: composite\n"
        "  transports:\n"
        f"    audit_file: {{type: file, log_file_path: '{log_file}', append: true}}\n"
        "    store: {type: tillit_store}\n"
    )
    events = [_share(engine, index) for index in range(3)]
    clock = FakeClock()
    transport = build_transport(_url(engine), environ={}, config_path=config)
    assert isinstance(transport, CompositeTransport)
    _ship_all(OutboxShipper(engine, transport, clock), clock)

    written = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert written == events
    assert _stored_ids(engine) == sorted(map(event_id, events))


def test_a_composite_member_that_fails_gets_the_event_on_retry(engine: Engine) -> None:
    marquez = MarquezStub(failures=1)
    environ = {
        "OPENLINEAGE_URL": marquez.url,
        "OPENLINEAGE__TRANSPORT__TYPE": "composite",
        "OPENLINEAGE__TRANSPORT__TRANSPORTS__STORE__TYPE": "tillit_store",
    }
    try:
        event = _share(engine, 0)
        clock = FakeClock()
        transport = build_transport(_url(engine), environ=environ)
        _ship_all(OutboxShipper(engine, transport, clock), clock)
    finally:
        marquez.close()
    assert (marquez.refused, marquez.accepted) == (1, [event])
    assert _stored_ids(engine) == [event_id(event)], "stored once though delivered twice"
