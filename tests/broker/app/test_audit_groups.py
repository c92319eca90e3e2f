"""Pages prepared on the event loop are audited in groups: one transaction, each page its own
record, token and answer, and nothing released unless the group committed."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from broker.audit.verify import verify_chain
from broker.auth.verifier import TokenUse
from broker.config.settings import BrokerSettings
from broker.errors import AuthenticationError, PolicyDenied, ServiceUnavailable
from broker.main import create_app
from broker.sharing.models import ShareRequestBody
from broker.sharing.recording import AuditTransactionLost
from broker.sharing.service import PendingPage, SharePage, ShareService
from contracts.sqlite_direct import sqlite_driver
from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import ECE_REQUEST, audit_rows, scalar

PARTNER = "lahti-education"
REFUSED = {**ECE_REQUEST, "fields": ["dwelling_id"]}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _prepared(
    app: FastAPI, auth: Minter, request: dict[str, Any] = ECE_REQUEST, key: str | None = None
) -> tuple[PendingPage, TokenUse]:
    """A page prepared as the event loop prepares it, with its verified token's use."""
    token = auth(PARTNER)["Authorization"].removeprefix("Bearer ")
    principal, use = app.state.runtime.verifier.check(token)
    service: ShareService = app.state.share_service
    pending = service.prepare_page(
        principal, ShareRequestBody(**request), limit=5, cursor=None, idempotency_key=key
    )
    assert isinstance(pending, PendingPage)
    return pending, use


COUNTED = ("audit_log", "share_receipts", "lineage_outbox")


def _counts(store_url: str) -> tuple[int, ...]:
    return tuple(scalar(store_url, f"SELECT count(*) FROM {table}") for table in COUNTED)  # noqa: S608


def _chain_ok(store_url: str) -> bool:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        report = verify_chain(conn)
    engine.dispose()
    return report.ok


def test_a_group_records_each_page_in_one_transaction(
    app: FastAPI, client: TestClient, auth: Minter, store_url: str
) -> None:
    service: ShareService = app.state.share_service
    group = [_prepared(app, auth), _prepared(app, auth, REFUSED), _prepared(app, auth)]
    before = len(audit_rows(store_url))
    opened: list[int] = []
    audited = service.recorder.audited

    def counted(*args: Any, **kwargs: Any) -> Any:
        opened.append(1)
        return audited(*args, **kwargs)

    service.recorder.audited = counted  # type: ignore[method-assign]
    outcomes = service.commit_pages(group)

    assert len(opened) == 1
    first, refusal, last = outcomes
    assert isinstance(first, SharePage) and isinstance(last, SharePage)
    assert isinstance(refusal, PolicyDenied)
    records = audit_rows(store_url)[before:]
    assert [(r.decision, r.share_id) for r in records] == [
        ("permit", first.receipt.share_id),
        ("deny", None),
        ("permit", last.receipt.share_id),
    ]
    assert [first.receipt.audit_seq, last.receipt.audit_seq] == [records[0].seq, records[2].seq]
    assert first.rows and first.rows == last.rows
    # Every page's token is spent: none authorises a second request.
    for _pending, use in group:
        again = TokenUse(use.issuer, use.jti, use.partner_id, use.expires_at, use.replay_cache)
        with pytest.raises(AuthenticationError) as replayed:
            again.spend()
        assert replayed.value.code == "token_replayed"
    assert _chain_ok(store_url)


def test_a_replayed_token_fails_only_its_own_page(
    app: FastAPI, client: TestClient, auth: Minter, store_url: str
) -> None:
    service: ShareService = app.state.share_service
    first, later = _prepared(app, auth), _prepared(app, auth)
    # The same token presented twice: two uses of one token id.
    replay = (first[0], dataclasses.replace(first[1], spent=False))
    before = _counts(store_url)

    outcomes = service.commit_pages([first, replay, later])

    assert isinstance(outcomes[0], SharePage) and isinstance(outcomes[2], SharePage)
    assert isinstance(outcomes[1], AuthenticationError)
    assert outcomes[1].code == "token_replayed"
    after = _counts(store_url)
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 2, 2]
    assert _chain_ok(store_url)


def test_a_page_whose_records_fail_takes_back_only_its_own(
    app: FastAPI, client: TestClient, auth: Minter, store_url: str
) -> None:
    service: ShareService = app.state.share_service
    # Two requests with one Idempotency-Key, prepared before either was recorded: the second
    # receipt breaks the key's uniqueness after its audit record and lineage event are written.
    first, clash, other = (
        _prepared(app, auth, key="same-key"),
        _prepared(app, auth, key="same-key"),
        _prepared(app, auth),
    )
    before = _counts(store_url)

    outcomes = service.commit_pages([first, clash, other])

    assert isinstance(outcomes[0], SharePage) and isinstance(outcomes[2], SharePage)
    assert isinstance(outcomes[1], ServiceUnavailable)
    after = _counts(store_url)
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 2, 2]
    seqs = [outcomes[0].receipt.audit_seq, outcomes[2].receipt.audit_seq]
    assert seqs[1] == seqs[0] + 1
    assert _chain_ok(store_url)


def test_a_group_whose_transaction_fails_releases_nothing(
    app: FastAPI, client: TestClient, auth: Minter, store_url: str
) -> None:
    service: ShareService = app.state.share_service
    group = [_prepared(app, auth), _prepared(app, auth)]
    before = _counts(store_url)
    audited = service.recorder.audited

    def failing(*args: Any, **kwargs: Any) -> Any:
        @contextmanager
        def transaction() -> Any:
            with audited(*args, **kwargs) as conn:
                yield conn
                # Raised where the commit would run: the transaction is rolled back.
                raise sa.exc.OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O"))

        return transaction()

    service.recorder.audited = failing  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable):
        service.commit_pages(group)
    assert _counts(store_url) == before


def test_a_part_the_store_cannot_take_back_alone_fails_the_whole_group(
    app: FastAPI, client: TestClient, auth: Minter, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service: ShareService = app.state.share_service
    group = [_prepared(app, auth), _prepared(app, auth), _prepared(app, auth)]
    before = _counts(store_url)
    record = service._record_page
    calls: list[int] = []

    def full_disk_on_the_second(conn: sa.Connection, pending: PendingPage) -> Any:
        calls.append(1)
        if len(calls) == 2:
            # What SQLite does on a full disk: the whole transaction is rolled back.
            driver = sqlite_driver(conn)
            assert driver is not None
            driver.execute("ROLLBACK")
            raise sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("disk full"))
        return record(conn, pending)

    monkeypatch.setattr(service, "_record_page", full_disk_on_the_second)
    with pytest.raises(AuditTransactionLost):
        service.commit_pages(group)
    # The third page was never written outside the transaction, and the first's records went
    # with the transaction.
    assert calls == [1, 1]
    assert _counts(store_url) == before
    assert _chain_ok(store_url)


@pytest.mark.anyio
async def test_requests_arriving_together_are_audited_in_one_group(
    app: FastAPI, auth: Minter, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service: ShareService = app.state.share_service
    groups: list[int] = []
    commit_pages = service.commit_pages

    def recorded(group: Any, **kwargs: Any) -> Any:
        outcomes = commit_pages(group, **kwargs)
        groups.append(len(group))
        return outcomes

    monkeypatch.setattr(service, "commit_pages", recorded)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://broker") as client,
    ):
        # Background writers would only make the group wait for the write turn.
        for worker in (app.state.disclosure_indexer, app.state.lineage_shipper):
            assert worker is None or worker.stop(timeout=10)
        post: Callable[..., Any] = client.post
        # The partner's key is fetched (in a thread) by the first request only.
        warm = await post("/v1/shares?limit=5", json=ECE_REQUEST, headers=auth(PARTNER))
        assert warm.status_code == 200, warm.text
        groups.clear()
        before = len(audit_rows(store_url))
        requests = [ECE_REQUEST, REFUSED, ECE_REQUEST, ECE_REQUEST]
        responses = await asyncio.gather(
            *(post("/v1/shares?limit=5", json=body, headers=auth(PARTNER)) for body in requests)
        )
    assert [response.status_code for response in responses] == [200, 403, 200, 200]
    assert sum(groups) == 4 and max(groups) > 1, groups
    records = audit_rows(store_url)[before:]
    permits = {r.share_id: r.seq for r in records if r.decision == "permit"}
    assert {
        response.json()["share_id"]: response.json()["audit_seq"]
        for response in responses
        if response.status_code == 200
    } == permits
    assert sorted(r.decision for r in records) == ["deny", "permit", "permit", "permit"]
    assert _chain_ok(store_url)


@pytest.mark.postgres
def test_a_failed_page_is_taken_back_alone_on_postgresql(
    settings: BrokerSettings, auth: Minter, postgres_url: str
) -> None:
    from tests.schema import migrate

    app = create_app(settings.model_copy(update={"database_url": migrate(postgres_url)}))
    with TestClient(app):
        service: ShareService = app.state.share_service
        first, clash, later = (
            _prepared(app, auth, key="same-key"),
            _prepared(app, auth, key="same-key"),
            _prepared(app, auth),
        )
        replay = (later[0], dataclasses.replace(first[1], spent=False))
        outcomes = service.commit_pages([first, clash, replay, later])
    assert isinstance(outcomes[0], SharePage) and isinstance(outcomes[3], SharePage)
    assert isinstance(outcomes[1], ServiceUnavailable)
    assert isinstance(outcomes[2], AuthenticationError)
    assert _counts(postgres_url) == (2, 2, 2)
    assert [outcomes[0].receipt.audit_seq, outcomes[3].receipt.audit_seq] == [1, 2]
    assert _chain_ok(postgres_url)
