"""Pseudonyms, aggregates, citizens' disclosures, operators and failure answers."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import ECE_REQUEST, audit_rows

ANALYTICS = {
    "dataset": "persons",
    "purpose": "knowledge_management",
    "legal_basis": "information_management_act_906_2019",
}


def test_pseudonyms_are_stable_for_a_partner_and_never_the_identity_code(
    client: TestClient, auth: Minter
) -> None:
    first = client.post("/v1/shares?limit=50", json=ANALYTICS, headers=auth("lahti-analytics"))
    again = client.post("/v1/shares?limit=50", json=ANALYTICS, headers=auth("lahti-analytics"))
    assert first.status_code == 200, first.text
    rows = first.json()["rows"]
    assert [r["person_id"] for r in rows] == [r["person_id"] for r in again.json()["rows"]]
    plain = client.post("/v1/shares?limit=50", json=ECE_REQUEST, headers=auth("lahti-education"))
    identity_codes = {r["person_id"] for r in plain.json()["rows"]}
    assert not identity_codes & {r["person_id"] for r in rows}
    assert all(len(r["person_id"]) >= 32 for r in rows)
    assert {r["birth_date"] for r in rows} <= {"0-2", "3-6", "7-12", "13-17", "18-64", "65+"}


def test_aggregate_only_agreements_get_suppressed_counts(client: TestClient, auth: Minter) -> None:
    request = {
        "dataset": "households",
        "purpose": "official_statistics",
        "legal_basis": "statistics_act_280_2004",
        "fields": ["district"],
    }
    response = client.post("/v1/shares", json=request, headers=auth("statistics-finland"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["aggregate"] is True
    counts = [row["count"] for row in body["rows"] if row["count"] is not None]
    assert counts and not any(0 < count < 5 for count in counts)
    assert all(set(row) == {"district", "count"} for row in body["rows"])


def test_a_citizen_sees_exactly_the_disclosures_about_them(
    client: TestClient, auth: Minter
) -> None:
    shared = client.post(
        "/v1/shares?limit=5", json=ECE_REQUEST, headers=auth("lahti-education")
    ).json()
    person = shared["rows"][0]["person_id"]
    mine = client.get("/v1/subjects/me/disclosures", headers=auth("suomi-citizen-portal", person))
    assert mine.status_code == 200, mine.text
    [disclosure] = mine.json()
    assert disclosure["share_id"] == shared["share_id"]
    assert (disclosure["partner"], disclosure["purpose"], disclosure["legal_basis"]) == (
        "lahti-education",
        "ece_placement",
        "ece_act_540_2018",
    )
    assert "Lahti" in disclosure["partner_name"]
    stranger = client.get(
        "/v1/subjects/me/disclosures", headers=auth("suomi-citizen-portal", "010101-123N")
    )
    assert stranger.status_code == 200 and stranger.json() == []


def test_partners_cannot_use_citizen_or_operator_endpoints(
    client: TestClient, auth: Minter
) -> None:
    citizen = client.get("/v1/subjects/me/disclosures", headers=auth("lahti-education"))
    operator = client.get("/v1/audit/verify", headers=auth("lahti-education"))
    assert citizen.status_code == operator.status_code == 403


def test_operators_verify_the_audit_chain(client: TestClient, auth: Minter) -> None:
    for _ in range(3):
        client.post("/v1/shares?limit=5", json=ECE_REQUEST, headers=auth("lahti-education"))
    report = client.get("/v1/audit/verify", headers=auth("tillit-operations"))
    assert report.status_code == 200, report.text
    assert report.json()["length"] == 3 and report.json()["ok"] is True


def test_when_the_audit_log_cannot_be_written_nothing_is_released(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        )
    engine.dispose()
    response = client.post("/v1/shares", json=ECE_REQUEST, headers=auth("lahti-education"))
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "rows" not in response.json()
    assert audit_rows(store_url) == []


def test_catalog_and_agreements_show_only_the_callers_permissions(
    client: TestClient, auth: Minter
) -> None:
    catalog = client.get("/v1/catalog", headers=auth("kela")).json()
    placements = next(entry for entry in catalog if entry["name"] == "ece_placements")
    assert {a["agreement_id"] for a in placements["your_agreements"]} == {
        "kela-daycare-fee-decision"
    }
    persons = client.get("/v1/catalog/persons", headers=auth("kela")).json()
    assert persons["your_agreements"] == []
    assert {f["name"]: f["classification"] for f in persons["fields"]}["person_id"] == "personal"
    mine = client.get("/v1/agreements", headers=auth("kela")).json()
    assert {a["partner"] for a in mine} == {"kela"}
    assert client.get("/v1/catalog/pets", headers=auth("kela")).status_code == 404


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_the_openapi_document_describes_every_endpoint_and_its_problems(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/v1/shares",
        "/v1/shares/{share_id}",
        "/v1/catalog",
        "/v1/agreements",
        "/v1/subjects/me/disclosures",
        "/v1/audit/verify",
        "/healthz",
        "/readyz",
    ):
        assert path in paths
    responses = paths["/v1/shares"]["post"]["responses"]
    assert {"200", "401", "403", "409", "413", "422", "429", "503"} <= set(responses)
    examples = responses["403"]["content"]["application/problem+json"]["examples"]
    codes = {example["value"]["code"] for example in examples.values()}
    assert {"no_agreement", "purpose_not_permitted", "agreement_not_in_force"} <= codes


def test_aggregates_refuse_filters_so_differencing_cannot_isolate_a_person(
    client: TestClient, auth: Minter
) -> None:
    request = {
        "dataset": "households",
        "purpose": "official_statistics",
        "legal_basis": "statistics_act_280_2004",
        "fields": ["district"],
    }
    whole = client.post("/v1/shares", json=request, headers=auth("statistics-finland"))
    assert whole.status_code == 200
    narrowed = client.post(
        "/v1/shares",
        json={**request, "filters": {"district": "Keskusta"}},
        headers=auth("statistics-finland"),
    )
    assert narrowed.status_code == 403
    assert narrowed.json()["code"] == "filter_not_permitted"
