"""Four broker worker processes on PostgreSQL under concurrent load: one unforked audit chain,
one record per request, and each share's lineage event delivered once by the workers' shippers.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from broker.config.loader import read_partners
from contracts.store import make_engine
from lineage.outbox import pending_count
from tests.broker.app.conftest import ROOT
from tests.reliability.conftest import broker_environment
from tests.reliability.support import Outcome, ShareClient, report, store_facts

pytestmark = [pytest.mark.postgres, pytest.mark.integration]
REQUESTS = 200
WORKERS = 4


class LineageCollector:
    """An OpenLineage HTTP endpoint that counts every delivery, duplicates included."""

    def __init__(self) -> None:
        self.deliveries: Counter[str] = Counter()
        lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server hook's name)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                event = json.loads(body)
                if event["job"]["name"].startswith("share."):
                    with lock:
                        collector.deliveries[event["run"]["runId"]] += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def collector() -> Iterator[LineageCollector]:
    collector = LineageCollector()
    yield collector
    collector.close()


@pytest.fixture
def four_workers(
    loaded_postgres_url: str,
    broker_config: dict[str, Path],
    collector: LineageCollector,
    tmp_path: Path,
) -> Iterator[str]:
    """`uvicorn --workers 4` on the store, each worker shipping lineage to the collector."""
    port = _free_port()
    env = {
        **os.environ,
        **broker_environment(
            broker_config,
            loaded_postgres_url,
            TILLIT_LINEAGE_POLL_SECONDS="0.2",
            # Four workers share one partner's requests; the limit is not under test here.
            TILLIT_RATE_LIMIT_PER_MINUTE="100000",
        ),
        "OPENLINEAGE_URL": collector.url,
    }
    log = (tmp_path / "uvicorn.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "broker.main:app",
            "--workers",
            str(WORKERS),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, "the broker exited"
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("the broker did not become ready")


def _wait_for_outbox(database_url: str, timeout: float = 120) -> None:
    """Poll until the workers' own shippers have delivered every queued event."""
    engine = make_engine(database_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if pending_count(conn) == 0:
                    return
            time.sleep(0.2)
        pytest.fail("the workers did not ship the outbox")
    finally:
        engine.dispose()


def test_four_workers_keep_one_chain_and_deliver_each_lineage_event_once(
    four_workers: str,
    loaded_postgres_url: str,
    broker_config: dict[str, Path],
    collector: LineageCollector,
) -> None:
    partner = {p.id: p for p in read_partners(broker_config["config_dir"])}["lahti-education"]
    client = ShareClient(four_workers, partner, broker_config[partner.id])

    def call(number: int) -> Outcome:
        return client.share(permitted=number % 5 != 0, stream=number % 4 == 1)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(call, range(REQUESTS)))
    load_seconds = time.monotonic() - started
    statuses = Counter(outcome.status for outcome in outcomes)
    assert statuses == {200: REQUESTS * 4 // 5, 403: REQUESTS // 5}, statuses
    assert all(outcome.complete for outcome in outcomes)

    _wait_for_outbox(loaded_postgres_url)
    facts = store_facts(loaded_postgres_url, broker_config["checkpoint"])
    assert facts.chain_ok, facts.chain_problem
    assert facts.chain_length == REQUESTS
    assert set(facts.records_by_jti) == {outcome.jti for outcome in outcomes}
    engine = sa.create_engine(loaded_postgres_url)
    with engine.connect() as conn:
        seqs = list(conn.execute(sa.text("SELECT seq FROM audit_log ORDER BY seq")).scalars())
    engine.dispose()
    assert seqs == list(range(1, REQUESTS + 1))
    shares = [outcome.share_id for outcome in outcomes if outcome.status == 200]
    assert sorted(facts.permit_share_ids) == sorted(shares)
    assert facts.receipt_share_ids == set(shares)
    # Delivered, by four shippers racing for the same outbox, exactly once each.
    assert collector.deliveries == Counter(shares)
    report(
        "four_workers_postgres",
        {
            "workers": WORKERS,
            "requests": REQUESTS,
            "statuses": {str(k): v for k, v in statuses.items()},
            "audit_records": facts.chain_length,
            "lineage_deliveries": sum(collector.deliveries.values()),
            "load_seconds": round(load_seconds, 1),
        },
    )
