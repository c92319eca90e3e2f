"""A citizen downloads their own data: JSON or CSV, withheld fields named, audited like a share."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import audit_rows

PORTAL = "suomi-citizen-portal"


def _person_with_cases(store_url: str) -> str:
    """Someone with a family service case and a placement as a child, if any; else a case."""
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        code = conn.execute(
            sa.text(
                "SELECT client_id FROM family_service_cases "
                "WHERE client_id IN (SELECT person_id FROM persons) ORDER BY client_id LIMIT 1"
            )
        ).scalar_one()
    engine.dispose()
    return str(code)


def _count(store_url: str, table: str, column: str, code: str) -> int:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        count = conn.execute(
            sa.text(f"SELECT count(*) FROM {table} WHERE {column} = :c"),  # noqa: S608
            {"c": code},
        ).scalar_one()
    engine.dispose()
    return int(count)


def _export(client: TestClient, auth: Minter, person: str, query: str = "", **headers: str) -> Any:
    return client.get(f"/v1/subjects/me/data{query}", headers={**auth(PORTAL, person), **headers})


def test_a_citizen_downloads_exactly_their_own_rows_with_descriptions(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    person = _person_with_cases(store_url)
    answer = _export(client, auth, person)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    document = answer.json()
    datasets = {item["dataset"]: item for item in document["datasets"]}
    assert set(datasets) == {
        "persons",
        "ece_placements",
        "school_enrolments",
        "family_service_cases",
    }
    persons = datasets["persons"]
    assert [row["person_id"] for row in persons["rows"]] == [person]
    cases = datasets["family_service_cases"]
    assert cases["row_count"] == _count(store_url, "family_service_cases", "client_id", person) > 0
    assert {row["client_id"] for row in cases["rows"]} == {person}
    fields = {spec["name"]: spec for spec in persons["fields"]}
    assert fields["move_in_date"]["source_system"] == "population_register"
    assert fields["move_in_date"]["source_field"] == "VTJ_OTE.MUUTTOPVM"
    assert fields["move_in_date"]["description"]


def test_fields_the_law_withholds_are_listed_with_the_reason_not_omitted(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    person = _person_with_cases(store_url)
    document = _export(client, auth, person, "?dataset=family_service_cases").json()
    (cases,) = document["datasets"]
    (withheld,) = cases["withheld_fields"]
    assert withheld["field"] == "case_type"
    assert withheld["reason"] == "withheld_by_law"
    assert withheld["legal_basis"] == "data_protection_act_1050_2018_s34"
    assert withheld["legal_basis_reference"].startswith("https://www.finlex.fi/")
    assert all("case_type" not in row for row in cases["rows"])
    assert "case_type" not in [spec["name"] for spec in cases["fields"]]


@pytest.mark.parametrize(
    ("query", "headers"),
    [("?format=csv", {}), ("", {"Accept": "text/csv"})],
    ids=["format", "accept"],
)
def test_the_export_comes_as_csv_with_one_line_per_value(
    client: TestClient,
    auth: Minter,
    store_url: str,
    query: str,
    headers: dict[str, str],
) -> None:
    person = _person_with_cases(store_url)
    answer = _export(client, auth, person, query, **headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(answer.text)))
    ids = [line for line in lines if line["dataset"] == "persons" and line["field"] == "person_id"]
    assert [line["value"] for line in ids] == [person]
    withheld = [line for line in lines if line["withheld_reason"]]
    assert [(line["field"], line["value"]) for line in withheld] == [("case_type", "")]
    assert all(line["description"] for line in lines)


def test_every_download_is_audited_traced_and_listed_as_my_own_access(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    person = _person_with_cases(store_url)
    before = len(audit_rows(store_url))
    answer = _export(client, auth, person, "?dataset=persons")
    assert answer.status_code == 200
    (item,) = answer.json()["datasets"]
    records = audit_rows(store_url)[before:]
    assert len(records) == 1
    record = records[0]
    assert record.share_id == item["export_id"] and record.seq == item["audit_seq"]
    assert record.purpose == "data_subject_access" and record.decision == "permit"
    assert record.subject_kind == "citizen" and record.row_count == 1
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        events = conn.execute(sa.text("SELECT payload FROM lineage_outbox")).scalars().all()
    engine.dispose()
    assert any(item["export_id"] in str(event) for event in events)
    disclosures = client.get("/v1/subjects/me/disclosures", headers=auth(PORTAL, person)).json()
    own = [d for d in disclosures if d["share_id"] == item["export_id"]]
    assert len(own) == 1
    assert own[0]["partner"] == PORTAL and own[0]["purpose"] == "data_subject_access"
    report = client.get("/v1/audit/verify", headers=auth("tillit-operations")).json()
    assert report["ok"] is True


def test_someone_absent_from_the_store_gets_empty_datasets_not_others_rows(
    client: TestClient, auth: Minter
) -> None:
    document = _export(client, auth, "010101-123N").json()
    assert [item["row_count"] for item in document["datasets"]] == [0, 0, 0, 0]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?format=xml", 422, "invalid_format"),
        ("?dataset=no_such_dataset", 422, "unknown_dataset"),
        ("?dataset=households", 403, "dataset_not_exportable"),
        ("?dataset=Persons;drop", 422, "invalid_request"),
    ],
)
def test_bad_export_requests_get_problems_with_codes(
    client: TestClient, auth: Minter, query: str, status: int, code: str
) -> None:
    answer = _export(client, auth, "010101-123N", query)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code


def test_only_citizens_download_their_data(client: TestClient, auth: Minter) -> None:
    answer = client.get("/v1/subjects/me/data", headers=auth("lahti-education"))
    assert answer.status_code == 403
    assert client.get("/v1/subjects/me/data").status_code == 401


def test_the_openapi_document_describes_the_citizens_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"get"} <= set(paths["/v1/subjects/me/data"])
    assert {"get", "post"} <= set(paths["/v1/subjects/me/consents"])
    revoke = paths["/v1/subjects/me/consents/{consent_id}"]["delete"]["responses"]
    assert {"200", "401", "403", "404", "409"} <= set(revoke)
    denials = paths["/v1/shares"]["post"]["responses"]["403"]["content"]
    codes = {e["value"]["code"] for e in denials["application/problem+json"]["examples"].values()}
    assert {"consent_missing", "consent_revoked", "consent_expired"} <= codes
