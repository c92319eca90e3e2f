"""Sharing end to end: permits release only what the agreement allows, after the audit record."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from broker.api import audit_groups
from broker.api.audit_groups import TURN_RETRY_PAUSES
from broker.api.limits import ShareLane
from broker.config.settings import BrokerSettings
from broker.main import create_app
from contracts.store import sqlite_writer
from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import ECE_REQUEST, audit_rows, scalar

T = TypeVar("T")

AGREED_FIELDS = {
    "person_id",
    "last_name",
    "first_names",
    "birth_date",
    "street_address",
    "postal_code",
    "district",
    "municipality_code",
    "move_in_date",
}


def test_a_permitted_share_releases_the_agreed_fields_and_is_audited_first(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    response = client.post("/v1/shares", json=ECE_REQUEST, headers=auth("lahti-education"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["agreement_id"] == "lahti-education-ece-placement"
    assert set(body["fields"]) == AGREED_FIELDS
    assert body["rows"] and all(set(row) == AGREED_FIELDS for row in body["rows"])
    assert all(row["municipality_code"] == "398" for row in body["rows"])  # the row scope
    [record] = audit_rows(store_url)
    assert (record.decision, record.share_id, record.partner) == (
        "permit",
        body["share_id"],
        "lahti-education",
    )
    assert record.row_count == body["row_count"] == len(body["rows"])
    assert response.headers["X-Tillit-Share-Id"] == body["share_id"]


def test_requested_fields_outside_the_agreement_are_withheld_with_a_reason(
    client: TestClient, auth: Minter
) -> None:
    request = {**ECE_REQUEST, "fields": ["first_names", "dwelling_id", "sex"]}
    response = client.post("/v1/shares", json=request, headers=auth("lahti-education"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["fields"] == ["first_names"]
    assert {w["field"]: w["reason"] for w in body["withheld_fields"]} == {
        "dwelling_id": "field_not_in_agreement",
        "sex": "field_not_in_agreement",
    }


def test_no_permitted_field_left_is_a_denial(client: TestClient, auth: Minter) -> None:
    request = {**ECE_REQUEST, "fields": ["dwelling_id"]}
    response = client.post("/v1/shares", json=request, headers=auth("lahti-education"))
    assert response.status_code == 403
    assert response.json()["code"] == "fields_not_permitted"


def test_denials_are_problem_documents_with_reason_codes_and_are_audited(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    expired = {
        "dataset": "ece_placements",
        "purpose": "ece_placement",
        "legal_basis": "ece_act_540_2018",
    }
    cases = [
        ("asikkala", expired, "agreement_not_in_force"),
        ("kela", ECE_REQUEST, "no_agreement"),
        (
            "lahti-education",
            {**ECE_REQUEST, "legal_basis": "basic_education_act_628_1998"},
            "legal_basis_mismatch",
        ),
    ]
    for partner, request, code in cases:
        response = client.post("/v1/shares", json=request, headers=auth(partner))
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["code"] == code and problem["status"] == 403
    records = audit_rows(store_url)
    assert [r.decision for r in records] == ["deny"] * len(cases)
    assert [
        json.loads(r.reasons)[0] if isinstance(r.reasons, str) else r.reasons[0] for r in records
    ] == [code for _, _, code in cases]


def test_each_token_authorises_one_request(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    headers = auth("lahti-education")
    assert client.post("/v1/shares", json=ECE_REQUEST, headers=headers).status_code == 200
    again = client.post("/v1/shares", json=ECE_REQUEST, headers=headers)
    assert again.status_code == 401
    assert again.json()["code"] == "token_replayed"
    assert "Bearer" in again.headers["WWW-Authenticate"]
    assert len(audit_rows(store_url)) == 1


def _spent_token_ids(store_url: str) -> int:
    return int(scalar(store_url, "SELECT count(*) FROM token_replay"))


@pytest.mark.parametrize(
    ("first", "status"),
    [
        pytest.param({**ECE_REQUEST, "why": "x"}, 422, id="body-refused-by-validation"),
        pytest.param({**ECE_REQUEST, "fields": ["dwelling_id"]}, 403, id="denied-and-audited"),
        pytest.param({**ECE_REQUEST, "dataset": "nope"}, 403, id="unknown-dataset"),
    ],
)
def test_a_token_is_spent_by_a_request_that_released_nothing(
    client: TestClient, auth: Minter, store_url: str, first: dict[str, Any], status: int
) -> None:
    """Shares spend their token in the audit transaction; a request that ends without one
    (a refused body, an error) still spends it before it answers."""
    headers = auth("lahti-education")
    assert client.post("/v1/shares", json=first, headers=headers).status_code == status
    assert _spent_token_ids(store_url) == 1
    again = client.post("/v1/shares", json=ECE_REQUEST, headers=headers)
    assert again.status_code == 401 and again.json()["code"] == "token_replayed"
    assert [r.decision for r in audit_rows(store_url)] == ["deny"] * (status == 403)


def test_an_idempotent_replay_spends_its_own_token(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    key = {"Idempotency-Key": "spend-check-1"}
    first = client.post("/v1/shares", json=ECE_REQUEST, headers=auth("lahti-education") | key)
    assert first.status_code == 200
    retry_headers = auth("lahti-education") | key
    retry = client.post("/v1/shares", json=ECE_REQUEST, headers=retry_headers)
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert _spent_token_ids(store_url) == 2
    again = client.post("/v1/shares", json=ECE_REQUEST, headers=retry_headers)
    assert again.status_code == 401 and again.json()["code"] == "token_replayed"
    assert len(audit_rows(store_url)) == 1


def test_a_replayed_stream_token_is_refused_before_the_stream_is_audited(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    headers = auth("lahti-education") | {"Accept": "application/x-ndjson"}
    assert client.post("/v1/shares", json=ECE_REQUEST, headers=headers).status_code == 200
    again = client.post("/v1/shares", json=ECE_REQUEST, headers=headers)
    assert again.status_code == 401 and again.json()["code"] == "token_replayed"
    assert [r.decision for r in audit_rows(store_url)] == ["permit"]


def test_a_request_without_a_token_is_401(client: TestClient) -> None:
    response = client.post("/v1/shares", json=ECE_REQUEST)
    assert response.status_code == 401
    assert response.json()["code"] == "missing_token"


def test_malformed_requests_are_422_problems(client: TestClient, auth: Minter) -> None:
    extra = client.post(
        "/v1/shares", json={**ECE_REQUEST, "why": "x"}, headers=auth("lahti-education")
    )
    assert extra.status_code == 422 and extra.json()["code"] == "invalid_request"
    big = client.post("/v1/shares?limit=10001", json=ECE_REQUEST, headers=auth("lahti-education"))
    assert big.status_code == 422


def test_pages_follow_an_opaque_cursor_without_overlap(client: TestClient, auth: Minter) -> None:
    first = client.post(
        "/v1/shares?limit=25", json=ECE_REQUEST, headers=auth("lahti-education")
    ).json()
    cursor = first["next_cursor"]
    assert cursor and "-" not in cursor[:3] and first["rows"][-1]["person_id"] not in cursor
    second = client.post(
        "/v1/shares",
        params={"limit": 25, "cursor": cursor},
        json=ECE_REQUEST,
        headers=auth("lahti-education"),
    ).json()
    ids = [row["person_id"] for row in first["rows"] + second["rows"]]
    assert len(ids) == 50 == len(set(ids)) and ids == sorted(ids)
    forged = client.post(
        "/v1/shares",
        params={"cursor": cursor[:-4] + "AAAA"},
        json=ECE_REQUEST,
        headers=auth("lahti-education"),
    )
    assert forged.status_code == 422 and forged.json()["code"] == "invalid_cursor"
    stolen = client.post(
        "/v1/shares",
        params={"cursor": cursor},
        json={
            "dataset": "persons",
            "purpose": "school_enrolment",
            "legal_basis": "basic_education_act_628_1998",
        },
        headers=auth("asikkala"),
    )
    assert stolen.status_code == 422


def test_ndjson_and_csv_stream_the_whole_share_with_the_receipt_in_headers(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    ndjson = client.post(
        "/v1/shares",
        json=ECE_REQUEST,
        headers={**auth("lahti-education"), "Accept": "application/x-ndjson"},
    )
    assert ndjson.status_code == 200, ndjson.text
    lines = [json.loads(line) for line in ndjson.text.splitlines() if line]
    assert len(lines) == int(ndjson.headers["X-Tillit-Row-Count"]) > 1000
    assert set(lines[0]) == AGREED_FIELDS
    csv = client.post(
        "/v1/shares", json=ECE_REQUEST, headers={**auth("lahti-education"), "Accept": "text/csv"}
    )
    assert csv.status_code == 200
    assert len(csv.text.strip().splitlines()) == len(lines) + 1
    records = audit_rows(store_url)
    assert [r.row_count for r in records] == [len(lines), len(lines)]


def test_an_idempotency_key_replays_the_receipt_without_a_second_release(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    key = {"Idempotency-Key": "8d0c2a3e-retry-1"}
    first = client.post("/v1/shares", json=ECE_REQUEST, headers={**auth("lahti-education"), **key})
    again = client.post("/v1/shares", json=ECE_REQUEST, headers={**auth("lahti-education"), **key})
    assert first.status_code == again.status_code == 200
    assert again.json()["share_id"] == first.json()["share_id"]
    assert again.json()["rows"] == [] and again.headers["Idempotent-Replayed"] == "true"
    other = client.post(
        "/v1/shares",
        json={**ECE_REQUEST, "fields": ["first_names"]},
        headers={**auth("lahti-education"), **key},
    )
    assert other.status_code == 409
    assert len(audit_rows(store_url)) == 1


def test_receipts_are_visible_only_to_the_partner_that_made_the_share(
    client: TestClient, auth: Minter
) -> None:
    share = client.post("/v1/shares", json=ECE_REQUEST, headers=auth("lahti-education")).json()
    mine = client.get(f"/v1/shares/{share['share_id']}", headers=auth("lahti-education"))
    assert mine.status_code == 200 and mine.json()["share_id"] == share["share_id"]
    assert "rows" not in mine.json()
    theirs = client.get(f"/v1/shares/{share['share_id']}", headers=auth("kela"))
    assert theirs.status_code == 404 and theirs.json()["code"] == "not_found"
    unknown = client.get("/v1/shares/00000000-0000-0000-0000-000000000000", headers=auth("kela"))
    assert unknown.json() == {**theirs.json(), "instance": unknown.json().get("instance")}


class _CountingLane(ShareLane):
    def __init__(self, inline_rows: int) -> None:
        super().__init__(1, inline_rows=inline_rows)
        self.asked: list[int | None] = []
        self.runs = 0

    def serves_inline(self, rows: int | None) -> bool:
        self.asked.append(rows)
        return super().serves_inline(rows)

    async def run(self, func: Callable[[], T]) -> T:
        self.runs += 1
        return await super().run(func)


@pytest.mark.parametrize(
    ("accept", "query", "inline_rows", "asked", "runs"),
    [
        ("application/json", "", 1000, [1000], 0),
        ("application/json", "?limit=7", 1000, [7], 0),
        ("application/json", "?limit=7", 6, [7], 1),
        ("application/x-ndjson", "", 1000, [], 1),
    ],
)
@pytest.mark.usefixtures("no_background_indexer")
def test_shares_are_served_in_the_worker_share_lane(
    app: FastAPI,
    client: TestClient,
    auth: Minter,
    accept: str,
    query: str,
    inline_rows: int,
    asked: list[int | None],
    runs: int,
) -> None:
    # A JSON page is bounded by its limit (and may run on the event loop); a stream is not.
    lane = app.state.share_lane = _CountingLane(inline_rows)
    headers = {**auth("lahti-education"), "Accept": accept}
    response = client.post(f"/v1/shares{query}", json=ECE_REQUEST, headers=headers)
    assert response.status_code == 200, response.text
    assert (lane.asked, lane.runs) == (asked, runs)


@pytest.fixture
def no_background_indexer(app: FastAPI, client: TestClient) -> None:
    """Stop the disclosure indexer: holding the write turn or a pooled connection while it
    waits for a busy writer, it would decide where a page goes instead of the test (a busy
    writer is tested in api/test_share_lane.py)."""
    assert app.state.disclosure_indexer.stop(timeout=10)


def test_a_page_is_prepared_on_the_loop_unless_a_checkout_would_wait(app: FastAPI) -> None:
    service, pool = app.state.share_service, app.state.runtime.engine.pool
    held = [app.state.runtime.engine.connect() for _ in range(pool.size() - 1)]
    try:
        # Every connection opened so far is in use, and the pool may still open one more.
        assert pool.checkedin() == 0
        assert service.serves_on_event_loop()
        held.append(app.state.runtime.engine.connect())
        assert not service.serves_on_event_loop()
        held.pop().close()
        assert service.serves_on_event_loop()
    finally:
        for connection in held:
            connection.close()


BUSY_ON_THE_LOOP = ("loop", "WriteTurnBusy")


def _threads_of(
    monkeypatch: pytest.MonkeyPatch,
    target: Any,
    *names: str,
    release: tuple[int, threading.Event] | None = None,
) -> dict[str, list[tuple[str, str]]]:
    """Record, for each method named, the thread of each call and how it ended; with
    `release` (n, event), set the event once n calls found the write turn busy on the loop."""
    calls: dict[str, list[tuple[str, str]]] = {name: [] for name in names}

    def recorded(name: str, func: Callable[..., T]) -> Callable[..., T]:
        def call(*args: Any, **kwargs: Any) -> T:
            where = "worker" if _in_worker_thread() else "loop"
            try:
                result = func(*args, **kwargs)
            except Exception as error:
                calls[name].append((where, type(error).__name__))
                if release is not None and calls[name].count(BUSY_ON_THE_LOOP) == release[0]:
                    release[1].set()
                raise
            calls[name].append((where, "returned"))
            return result

        return call

    for name in names:
        monkeypatch.setattr(target, name, recorded(name, getattr(target, name)))
    return calls


def _in_worker_thread() -> bool:
    return threading.current_thread().name.startswith("AnyIO worker thread")


@pytest.mark.parametrize(("inline_rows", "on_the_loop"), [(1000, True), (0, False)])
def test_small_pages_and_cached_keys_are_handled_on_the_event_loop(
    app: FastAPI,
    client: TestClient,
    auth: Minter,
    monkeypatch: pytest.MonkeyPatch,
    inline_rows: int,
    on_the_loop: bool,
) -> None:
    app.state.share_lane = ShareLane(1, inline_rows=inline_rows)
    service = app.state.share_service
    shares = _threads_of(monkeypatch, service, "prepare_page", "commit_page", "commit_pages")
    checks = _threads_of(monkeypatch, app.state.runtime.verifier, "check")
    counted = []
    for _ in range(2):
        headers = auth("lahti-education")
        response = client.post("/v1/shares?limit=5", json=ECE_REQUEST, headers=headers)
        assert response.status_code == 200, response.text
        counted.append(len(checks["check"]))
    where = "loop" if on_the_loop else "worker"
    # On the loop each page is audited in a group (of one here, the requests being one after
    # the other); in the lane one by one.
    audited = "commit_pages" if on_the_loop else "commit_page"
    assert shares == {
        "prepare_page": [(where, "returned")] * 2,
        "commit_page": [],
        "commit_pages": [],
    } | {audited: [(where, "returned")] * 2}
    # The partner's key was cached by the second request: checked once, on the event loop.
    assert counted[1] - counted[0] == 1
    assert checks["check"][-1] == ("loop", "returned")


def _writer_elsewhere(app: FastAPI, how: str, release: threading.Event) -> threading.Thread:
    """Hold the store's write lock from another thread until `release` is set: through
    Tillit's write turn (as the lineage shipper or another request would), or as a bare
    sqlite3 connection outside it (a tool on the same file)."""
    engine = app.state.runtime.engine
    taken = threading.Event()

    def hold() -> None:
        if how == "turn":
            with sqlite_writer(engine):
                taken.set()
                release.wait(10)
            return
        connection = sqlite3.connect(engine.url.database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        taken.set()
        release.wait(10)
        connection.execute("COMMIT")
        connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(5)
    return thread


@pytest.mark.parametrize("how", ["turn", "sqlite3"])
@pytest.mark.usefixtures("no_background_indexer")
def test_a_page_on_the_loop_waits_for_a_busy_writer_in_the_lane_never_on_the_loop(
    app: FastAPI,
    client: TestClient,
    auth: Minter,
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
    how: str,
) -> None:
    app.state.share_lane = ShareLane(1, inline_rows=1000)
    tries = [BUSY_ON_THE_LOOP] * (len(TURN_RETRY_PAUSES) + 1)
    release = threading.Event()
    shares = _threads_of(
        monkeypatch,
        app.state.share_service,
        "prepare_page",
        "commit_pages",
        release=(len(tries), release),
    )
    before = len(audit_rows(store_url))
    writer = _writer_elsewhere(app, how, release)
    response = client.post("/v1/shares?limit=5", json=ECE_REQUEST, headers=auth("lahti-education"))
    writer.join()
    assert response.status_code == 200, response.text
    # Refused on the loop at once, before anything was written, at each try; then waited for
    # in the lane.
    assert shares == {
        "prepare_page": [("loop", "returned")],
        "commit_pages": [*tries, ("worker", "returned")],
    }
    records = audit_rows(store_url)[before:]
    assert [(r.decision, r.share_id) for r in records] == [("permit", response.json()["share_id"])]


@pytest.mark.usefixtures("no_background_indexer")
def test_a_page_on_the_loop_takes_a_turn_freed_while_it_pauses(
    app: FastAPI,
    client: TestClient,
    auth: Minter,
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
) -> None:
    app.state.share_lane = ShareLane(1, inline_rows=1000)
    monkeypatch.setattr(audit_groups, "TURN_RETRY_PAUSES", (0.01, 1.0))
    release = threading.Event()
    shares = _threads_of(monkeypatch, app.state.share_service, "commit_pages", release=(2, release))
    writer = _writer_elsewhere(app, "turn", release)
    response = client.post("/v1/shares?limit=5", json=ECE_REQUEST, headers=auth("lahti-education"))
    writer.join()
    assert response.status_code == 200, response.text
    busy = BUSY_ON_THE_LOOP
    assert shares["commit_pages"] == [busy, busy, ("loop", "returned")]
    assert audit_rows(store_url)[-1].share_id == response.json()["share_id"]


@pytest.mark.usefixtures("no_background_indexer")
def test_a_refusal_on_the_loop_is_recorded_once_when_the_writer_is_busy(
    app: FastAPI,
    client: TestClient,
    auth: Minter,
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
) -> None:
    app.state.share_lane = ShareLane(1, inline_rows=1000)
    tries = [BUSY_ON_THE_LOOP] * (len(TURN_RETRY_PAUSES) + 1)
    release = threading.Event()
    shares = _threads_of(
        monkeypatch, app.state.share_service, "commit_pages", release=(len(tries), release)
    )
    before = len(audit_rows(store_url))
    writer = _writer_elsewhere(app, "turn", release)
    request = {**ECE_REQUEST, "fields": ["dwelling_id"]}
    response = client.post("/v1/shares", json=request, headers=auth("lahti-education"))
    writer.join()
    assert response.status_code == 403, response.text
    # The group's transaction succeeded; the refusal is its page's answer.
    assert shares["commit_pages"] == [*tries, ("worker", "returned")]
    assert [r.decision for r in audit_rows(store_url)[before:]] == ["deny"]


def test_the_worker_lane_follows_the_settings(app: FastAPI, settings: BrokerSettings) -> None:
    assert app.state.share_lane.inline_rows == 1000
    assert app.state.share_lane.threads == 1
    postgres = settings.model_copy(update={"database_url": "postgresql+psycopg://db/tillit"})
    assert (postgres.share_lane_inline_rows(), postgres.share_lane_threads()) == (0, 8)
    tuned = create_app(settings.model_copy(update={"share_inline_rows": 50, "share_threads": 2}))
    assert (tuned.state.share_lane.inline_rows, tuned.state.share_lane.threads) == (50, 2)
