"""What the fault tests share: a client that remembers what it received, the fork server,
outbox draining and the store-wide checks of what the broker promises."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import jwt
import sqlalchemy as sa

from broker.audit import audit_log, load_verify_key, verify_chain
from broker.config.keys import mint_token
from broker.config.models import Partner
from broker.store.tables import share_receipts
from contracts.store import make_engine
from lineage.outbox import OutboxShipper, lineage_outbox, pending_count
from lineage.store import lineage_events
from lineage.transports import TillitStoreConfig, TillitStoreTransport
from tests.broker.app.conftest import AUDIENCE, ROOT
from tests.broker.app.helpers import ECE_REQUEST

DENIED_REQUEST = {**ECE_REQUEST, "legal_basis": "basic_education_act_628_1998"}
NDJSON = "application/x-ndjson"


@dataclass
class Outcome:
    """What the client saw of one share request."""

    jti: str
    permitted: bool
    stream: bool
    status: int | None = None
    share_id: str | None = None
    content_type: str | None = None
    body: bytes = b""
    code: str | None = None
    complete: bool = False
    error: str | None = None
    headers_seen: threading.Event = field(default_factory=threading.Event, repr=False)


class ShareClient:
    """Mints one fresh token per request (unique jti) and records every answer it gets."""

    def __init__(self, base_url: str, partner: Partner, key: Path) -> None:
        self.base_url = base_url
        self.partner = partner
        self.key = key
        self._serial = 0
        self._lock = threading.Lock()

    def prepare(self, *, permitted: bool = True, stream: bool = False) -> tuple[Outcome, str]:
        with self._lock:
            self._serial += 1
            subject = f"caseworker-{self._serial}"
        token = mint_token(self.partner, self.key, AUDIENCE, subject)
        jti = jwt.decode(token, options={"verify_signature": False})["jti"]
        return Outcome(jti=jti, permitted=permitted, stream=stream), token

    def send(self, outcome: Outcome, token: str, timeout: float = 60) -> Outcome:
        headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
        if outcome.stream:
            headers["Accept"] = NDJSON
        body = ECE_REQUEST if outcome.permitted else DENIED_REQUEST
        url = f"{self.base_url}/v1/shares?limit=20"
        try:
            with httpx.stream("POST", url, json=body, headers=headers, timeout=timeout) as answer:
                outcome.status = answer.status_code
                outcome.share_id = answer.headers.get("x-tillit-share-id")
                outcome.content_type = answer.headers.get("content-type")
                outcome.headers_seen.set()
                for chunk in answer.iter_raw():
                    outcome.body += chunk
                outcome.complete = True
        except httpx.TransportError as error:
            outcome.error = type(error).__name__
        finally:
            outcome.headers_seen.set()
        if outcome.complete and outcome.status != 200 and outcome.body:
            outcome.code = httpx.Response(200, content=outcome.body).json().get("code")
        return outcome

    def share(self, *, permitted: bool = True, stream: bool = False) -> Outcome:
        outcome, token = self.prepare(permitted=permitted, stream=stream)
        return self.send(outcome, token)


class ForkServer:
    """Drives ``tests.reliability.forkserver``: one spawn per broker start, SIGKILL from here."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._log: TextIO = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.forkserver"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.port = int(self._answer("port"))
        self.base_url = f"http://127.0.0.1:{self.port}"

    def _answer(self, word: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith(word + " "):
            raise RuntimeError(f"fork server said {line!r}; see {self._log.name}")
        return line.split()[1]

    def spawn(self) -> int:
        """Start a broker child on the shared socket; its pid."""
        assert self.process.stdin is not None
        self.process.stdin.write("spawn\n")
        self.process.stdin.flush()
        return int(self._answer("pid"))

    @staticmethod
    def kill(pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop the live child gracefully (its lineage shipper hands claims back) and exit."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
            self.process.stdin.close()
            self.process.wait(timeout=60)
        self._log.close()


def drain_outbox(database_url: str, *, rounds: int = 1000) -> int:
    """Ship every queued lineage event to the store, including claims of killed shippers.

    The clock is an hour ahead, so the leases of shippers that died mid-batch have expired.
    """
    engine = make_engine(database_url)
    transport = TillitStoreTransport(TillitStoreConfig(database_url=database_url))
    shipper = OutboxShipper(engine, transport, lambda: time.time() + 3600, batch_size=500)
    shipped = 0
    try:
        for _ in range(rounds):
            shipped += shipper.ship_once()
            with engine.connect() as conn:
                if pending_count(conn) == 0:
                    return shipped
        raise AssertionError("the outbox did not drain")
    finally:
        transport.close()
        engine.dispose()


@dataclass(frozen=True)
class StoreFacts:
    """What the store holds after a run: audit records, receipts and lineage, by share."""

    chain_ok: bool
    chain_problem: str | None
    chain_length: int
    checkpoints: int
    records_by_jti: dict[str, Any]
    permit_share_ids: list[str]
    receipt_share_ids: set[str]
    outbox_events_by_share: Counter[str]
    lineage_events_by_share: Counter[str]
    pending: int


def store_facts(database_url: str, checkpoint_key: Path) -> StoreFacts:
    """Read everything the promises are about, verifying the chain with the checkpoint key."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            report = verify_chain(conn, load_verify_key(checkpoint_key))
            records = conn.execute(
                sa.select(
                    audit_log.c.seq, audit_log.c.jti, audit_log.c.decision, audit_log.c.share_id
                ).order_by(audit_log.c.seq)
            ).all()
            receipts = set(conn.execute(sa.select(share_receipts.c.share_id)).scalars())
            outbox = Counter(_share_run_ids(conn, lineage_outbox.c.payload))
            events = Counter(_share_run_ids(conn, lineage_events.c.payload))
            pending = pending_count(conn)
    finally:
        engine.dispose()
    by_jti: dict[str, Any] = {}
    for row in records:
        assert row.jti not in by_jti, f"two audit records for token {row.jti}"
        by_jti[row.jti] = row
    return StoreFacts(
        chain_ok=report.ok,
        chain_problem=report.problem,
        chain_length=report.length,
        checkpoints=report.checkpoints_checked,
        records_by_jti=by_jti,
        permit_share_ids=[row.share_id for row in records if row.decision == "permit"],
        receipt_share_ids=receipts,
        outbox_events_by_share=outbox,
        lineage_events_by_share=events,
        pending=pending,
    )


def _share_run_ids(conn: sa.Connection, payload: sa.ColumnElement[Any]) -> list[str]:
    """Run ids of the share events among stored lineage payloads (a share's run id is its id)."""
    ids = []
    for document in conn.execute(sa.select(payload)).scalars():
        if document["job"]["name"].startswith("share."):
            ids.append(document["run"]["runId"])
    return ids


def assert_promises_kept(outcomes: list[Outcome], facts: StoreFacts) -> None:
    """Every answer the client saw is backed by the store, and the store is whole."""
    assert facts.chain_ok, facts.chain_problem
    assert facts.chain_length == len(facts.records_by_jti)
    for outcome in outcomes:
        if outcome.status is None:
            continue  # the broker died before answering: a record may or may not exist
        record = facts.records_by_jti.get(outcome.jti)
        if outcome.status == 503:
            # Refused because the store could not be written: nothing was recorded or released.
            assert record is None, f"a 503 answer left an audit record: {outcome}"
            assert outcome.code == "service_unavailable" and outcome.share_id is None
            continue
        assert record is not None, f"an answer {outcome.status} was sent without an audit record"
        if outcome.status == 200:
            assert outcome.permitted and record.decision == "permit"
            assert record.share_id == outcome.share_id
        else:
            assert outcome.status == 403 and not outcome.permitted, outcome
            assert record.decision == "deny"
    sent = {outcome.jti for outcome in outcomes}
    assert set(facts.records_by_jti) <= sent, "a record for a request nobody sent"
    permits = facts.permit_share_ids
    assert len(set(permits)) == len(permits)
    # Receipt and lineage event are written in the audit record's transaction: all or none.
    assert facts.receipt_share_ids == set(permits)
    assert facts.outbox_events_by_share == Counter(permits)
    assert facts.pending == 0
    # After draining, every share's lineage event is in the store exactly once.
    assert facts.lineage_events_by_share == Counter(permits)


def report(test: str, figures: dict[str, object]) -> None:
    """Append a run's figures to TILLIT_RELIABILITY_REPORT (JSON lines), if set."""
    path = os.environ.get("TILLIT_RELIABILITY_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"test": test, **figures}) + "\n")
