"""Protections around shares: objections, delayed visibility, body size and rate limits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from broker.config.settings import BrokerSettings
from broker.main import create_app
from broker.sharing.models import ShareRequestBody
from broker.store import rows as store_rows
from broker.store.disclosures import unpack_subject_keys
from broker.store.subjects import SubjectKeys, subject_index_key
from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import ECE_REQUEST, partner_principal, scalar

ANALYTICS = {
    "dataset": "persons",
    "purpose": "knowledge_management",
    "legal_basis": "information_management_act_906_2019",
    "fields": ["person_id", "district"],
}
FOLLOW_UP = {
    "dataset": "persons",
    "purpose": "child_welfare_follow_up",
    "legal_basis": "child_welfare_act_417_2007",
}


def _object(store_url: str, identity_code: str) -> None:
    key = SubjectKeys(subject_index_key(b"k" * 64)).key(identity_code)
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO subject_restrictions (subject_key, kind, recorded_at) "
                "VALUES (:key, 'objection', :now)"
            ),
            {"key": key, "now": datetime.now(UTC)},
        )
    engine.dispose()


def _all_rows(
    client: TestClient, auth: Minter, partner: str, request: dict[str, object]
) -> list[dict[str, object]]:
    response = client.post(
        "/v1/shares", json=request, headers={**auth(partner), "Accept": "application/x-ndjson"}
    )
    assert response.status_code == 200, response.text
    import json

    return [json.loads(line) for line in response.text.splitlines() if line]


def test_an_objection_removes_a_person_from_non_mandatory_purposes_only(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    placement_rows = _all_rows(client, auth, "lahti-education", ECE_REQUEST)
    person = str(placement_rows[0]["person_id"])
    before = len(_all_rows(client, auth, "lahti-analytics", ANALYTICS))
    _object(store_url, person)
    after = _all_rows(client, auth, "lahti-analytics", ANALYTICS)
    assert len(after) == before - 1
    # Early childhood education placement is a statutory duty: the objection does not apply.
    assert person in {
        row["person_id"] for row in _all_rows(client, auth, "lahti-education", ECE_REQUEST)
    }


def test_a_stream_records_its_subjects_with_its_audit_record_before_any_row_is_read(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    objector = str(_all_rows(client, auth, "lahti-education", ECE_REQUEST)[0]["person_id"])
    _object(store_url, objector)
    runtime = client.app.state.runtime
    principal = partner_principal(runtime, "lahti-analytics", jti="stream-disclosures")
    receipt, chunks, _ = client.app.state.share_service.stream(
        principal,
        ShareRequestBody.model_validate(ANALYTICS),
        fmt="ndjson",
        idempotency_key=None,
        chunk_size=100,
    )
    # Nothing has been read from the stream yet: its subjects are already on record.
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        packed = conn.execute(
            sa.text("SELECT subject_keys FROM disclosure_batches WHERE share_id = :share"),
            {"share": receipt.share_id},
        ).scalars()
        recorded = [key for batch in packed for key in unpack_subject_keys(batch)]
        codes = conn.execute(sa.text("SELECT person_id FROM persons")).scalars().all()
    engine.dispose()
    streamed = sum(store_rows.row_count(chunk) for chunk in chunks)
    assert streamed == receipt.row_count == len(recorded) == len(set(recorded)) > 100
    keys = SubjectKeys(subject_index_key(b"k" * 64))
    assert keys.key(objector) not in recorded
    assert set(recorded) <= set(keys.keys(codes))
    assert scalar(store_url, "SELECT count(*) FROM audit_log") == 2


def test_disclosures_for_an_investigation_stay_hidden_until_the_agreement_allows(
    client: TestClient, auth: Minter
) -> None:
    shared = client.post(
        "/v1/shares?limit=1", json=FOLLOW_UP, headers=auth("phhyky-family-services")
    )
    assert shared.status_code == 200, shared.text
    person = shared.json()["rows"][0]["person_id"]
    seen = client.get("/v1/subjects/me/disclosures", headers=auth("suomi-citizen-portal", person))
    assert seen.status_code == 200 and seen.json() == []


def test_oversized_bodies_are_refused_before_anything_runs(
    client: TestClient, auth: Minter
) -> None:
    body = b'{"dataset": "persons", "padding": "' + b"x" * 70_000 + b'"}'
    response = client.post(
        "/v1/shares",
        content=body,
        headers={**auth("lahti-education"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_deeply_nested_json_is_a_422_not_a_crash(client: TestClient, auth: Minter) -> None:
    body = b'{"filters": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = client.post(
        "/v1/shares",
        content=body,
        headers={**auth("lahti-education"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_a_partner_over_its_rate_gets_429_with_retry_after(
    settings: BrokerSettings, auth: Minter
) -> None:
    slow = settings.model_copy(update={"rate_limit_per_minute": 2})
    with TestClient(create_app(slow)) as client:
        answers = [client.get("/v1/agreements", headers=auth("kela")) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert answers[-1].json()["code"] == "rate_limited"


@pytest.mark.parametrize("path", ["/v1/catalog", "/v1/agreements", "/v1/shares/x"])
def test_every_data_endpoint_needs_a_token(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_broker_refuses_a_database_that_was_never_migrated(
    settings: BrokerSettings, tmp_path: Path
) -> None:
    from contracts.schema_revision import SchemaNotCurrentError

    empty = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"})
    with pytest.raises(SchemaNotCurrentError, match="run `tillit db upgrade`"):
        create_app(empty)
