"""Consent over HTTP: grant, share, revoke, expire; every step audited and the chain intact."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from broker.runtime import HELSINKI
from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import audit_rows

PORTAL = "suomi-citizen-portal"
SCHOOL = "lahti-education"
SCHOOL_START: dict[str, Any] = {
    "dataset": "ece_placements",
    "purpose": "school_start_support",
    "legal_basis": "consent",
}


def _today() -> date:
    """Today in Helsinki, the calendar consents are valid on."""
    return datetime.now(HELSINKI).date()


FIELDS = ["child_id", "unit_name", "start_date", "end_date", "hours_per_week", "status"]


def _children(store_url: str, how_many: int) -> list[str]:
    """Identity codes of children with placements, the first with the most placements."""
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT child_id FROM ece_placements GROUP BY child_id "
                "ORDER BY count(*) DESC, child_id LIMIT :n"
            ),
            {"n": how_many},
        ).scalars()
        children = list(rows)
    engine.dispose()
    return children


def _placements(store_url: str, child: str) -> int:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM ece_placements WHERE child_id = :c"), {"c": child}
        ).scalar_one()
    engine.dispose()
    return int(count)


def _grant(client: TestClient, auth: Minter, person: str, **changes: Any) -> Any:
    body = {
        "partner": SCHOOL,
        "dataset": "ece_placements",
        "purpose": "school_start_support",
        "fields": FIELDS,
        "valid_until": (_today() + timedelta(days=365)).isoformat(),
        **changes,
    }
    return client.post("/v1/subjects/me/consents", json=body, headers=auth(PORTAL, person))


def _school_asks(client: TestClient, auth: Minter, **extra: Any) -> Any:
    return client.post(
        "/v1/shares?limit=1000", json={**SCHOOL_START, **extra}, headers=auth(SCHOOL)
    )


def _verify(client: TestClient, auth: Minter) -> dict[str, Any]:
    report = client.get("/v1/audit/verify", headers=auth("tillit-operations"))
    assert report.status_code == 200, report.text
    document: dict[str, Any] = report.json()
    return document


def test_the_school_gets_a_childs_data_only_while_the_family_consents(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    child, other = _children(store_url, 2)
    before = _school_asks(client, auth)
    assert before.status_code == 403
    assert before.json()["code"] == "consent_missing"

    granted = _grant(client, auth, child)
    assert granted.status_code == 201, granted.text
    consent = granted.json()
    assert consent["status"] == "valid" and consent["fields"] == FIELDS

    permitted = _school_asks(client, auth)
    assert permitted.status_code == 200, permitted.text
    rows = permitted.json()["rows"]
    assert {row["child_id"] for row in rows} == {child}
    assert len(rows) == _placements(store_url, child)
    assert other not in {row["child_id"] for row in rows}
    assert permitted.json()["agreement_id"] == "lahti-education-school-start-consent"

    revoked = client.delete(
        f"/v1/subjects/me/consents/{consent['consent_id']}", headers=auth(PORTAL, child)
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    after = _school_asks(client, auth)
    assert after.status_code == 403
    assert after.headers["content-type"].startswith("application/problem+json")
    assert after.json()["code"] == "consent_revoked"

    text = [str(row.reasons) for row in audit_rows(store_url)]
    assert any("consent_granted" in item for item in text)
    assert sum("consent_revoked" in item for item in text) == 2  # the revocation and the denial
    assert any("consent_missing" in item for item in text)
    report = _verify(client, auth)
    assert report["ok"] is True
    assert report["length"] == len(audit_rows(store_url))


def test_a_streamed_share_counts_and_sends_only_consenting_childrens_rows(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    child, second = _children(store_url, 2)
    assert _grant(client, auth, child).status_code == 201
    assert _grant(client, auth, second).status_code == 201
    response = client.post(
        "/v1/shares", json=SCHOOL_START, headers={**auth(SCHOOL), "Accept": "text/csv"}
    )
    assert response.status_code == 200, response.text
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert {line["child_id"] for line in lines} == {child, second}
    expected = _placements(store_url, child) + _placements(store_url, second)
    assert len(lines) == expected
    assert response.headers["x-tillit-row-count"] == str(expected)


def test_a_small_page_starts_with_the_consenting_childs_rows(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    # The last child in key order: a page of one read before filtering would come back empty.
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        child = conn.execute(
            sa.text("SELECT child_id FROM ece_placements ORDER BY placement_id DESC LIMIT 1")
        ).scalar_one()
    engine.dispose()
    assert _grant(client, auth, child).status_code == 201
    page = client.post("/v1/shares?limit=1", json=SCHOOL_START, headers=auth(SCHOOL))
    assert page.status_code == 200, page.text
    assert [row["child_id"] for row in page.json()["rows"]] == [child]


def test_an_expired_consent_denies_with_consent_expired(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    (child,) = _children(store_url, 1)
    assert _grant(client, auth, child, valid_until=_today().isoformat()).status_code == 201
    # Time passes: the consent's last day is now behind us.
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE subject_consents SET valid_until = :day"),
            {"day": (_today() - timedelta(days=2)).isoformat()},
        )
    engine.dispose()
    answer = _school_asks(client, auth)
    assert answer.status_code == 403
    assert answer.json()["code"] == "consent_expired"
    listed = client.get("/v1/subjects/me/consents", headers=auth(PORTAL, child)).json()
    assert [item["status"] for item in listed] == ["expired"]


def test_a_filter_naming_one_child_is_decided_by_that_childs_consent(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    child, other = _children(store_url, 2)
    consent = _grant(client, auth, child).json()
    assert _grant(client, auth, other).status_code == 201
    client.delete(f"/v1/subjects/me/consents/{consent['consent_id']}", headers=auth(PORTAL, child))
    mine = _school_asks(client, auth, filters={"child_id": child})
    assert mine.status_code == 403 and mine.json()["code"] == "consent_revoked"
    theirs = _school_asks(client, auth, filters={"child_id": other})
    assert theirs.status_code == 200
    assert {row["child_id"] for row in theirs.json()["rows"]} == {other}


def test_people_see_and_revoke_only_their_own_consents(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    child, other = _children(store_url, 2)
    consent = _grant(client, auth, child).json()
    theirs = client.get("/v1/subjects/me/consents", headers=auth(PORTAL, other))
    assert theirs.status_code == 200 and theirs.json() == []
    stolen = client.delete(
        f"/v1/subjects/me/consents/{consent['consent_id']}", headers=auth(PORTAL, other)
    )
    assert stolen.status_code == 404
    assert stolen.json()["code"] == "not_found"
    missing = client.delete("/v1/subjects/me/consents/no-such-id", headers=auth(PORTAL, child))
    assert missing.status_code == 404
    mine = client.get("/v1/subjects/me/consents", headers=auth(PORTAL, child)).json()
    assert [item["status"] for item in mine] == ["valid"]
    first = client.delete(
        f"/v1/subjects/me/consents/{consent['consent_id']}", headers=auth(PORTAL, child)
    )
    assert first.status_code == 200
    again = client.delete(
        f"/v1/subjects/me/consents/{consent['consent_id']}", headers=auth(PORTAL, child)
    )
    assert again.status_code == 409
    assert again.json()["code"] == "consent_already_revoked"
    history = client.get("/v1/subjects/me/consents", headers=auth(PORTAL, child)).json()
    assert len(history) == 1 and history[0]["revoked_at"] is not None


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"partner": "no-such-partner"}, "unknown_partner"),
        ({"dataset": "no_such_dataset"}, "unknown_dataset"),
        ({"purpose": "no_such_purpose"}, "unknown_purpose"),
        ({"purpose": "ece_placement"}, "no_consent_agreement"),
        ({"partner": "kela"}, "no_consent_agreement"),
        ({"fields": ["child_id", "monthly_fee_eur"]}, "fields_not_in_agreement"),
        ({"valid_until": "2020-01-01"}, "invalid_valid_until"),
        ({"fields": []}, "invalid_request"),
        ({"fields": ["child_id"], "extra": 1}, "invalid_request"),
    ],
)
def test_a_consent_outside_a_consent_agreement_is_refused_with_a_code(
    client: TestClient, auth: Minter, changes: dict[str, Any], code: str
) -> None:
    answer = _grant(client, auth, "010101-123N", **changes)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code


def test_partners_cannot_grant_consents_for_people(client: TestClient, auth: Minter) -> None:
    answer = client.post(
        "/v1/subjects/me/consents",
        json={
            "partner": SCHOOL,
            "dataset": "ece_placements",
            "purpose": "school_start_support",
            "fields": ["child_id"],
            "valid_until": "2030-01-01",
        },
        headers=auth(SCHOOL),
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"


def test_a_consent_can_be_revoked_after_its_agreement_is_withdrawn(
    client: TestClient,
    auth: Minter,
    store_url: str,
    settings: Any,
    tmp_path: Any,
    broker_config: dict[str, Any],
) -> None:
    import shutil

    from broker.main import create_app

    (child,) = _children(store_url, 1)
    consent = _grant(client, auth, child).json()
    withdrawn = tmp_path / "config"
    shutil.copytree(broker_config["config_dir"], withdrawn)
    (withdrawn / "agreements" / "lahti-education-school-start-consent.yaml").unlink()
    (tmp_path / "var").symlink_to(broker_config["config_dir"].parent / "var")
    later = create_app(settings.model_copy(update={"config_dir": withdrawn}))
    with TestClient(later) as other:
        revoked = other.delete(
            f"/v1/subjects/me/consents/{consent['consent_id']}", headers=auth(PORTAL, child)
        )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    assert "consent_revoked" in str(audit_rows(store_url)[-1].reasons)
