"""The citizen's own data and consents on /me over HTTP: session, forms, refusals, audit."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from broker.auth.principal import Principal
from broker.errors import AuthenticationError
from broker.web.i18n import locales
from broker.web.session import SESSION_LIFETIME, PageSessions
from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import audit_rows, scalar
from tests.e2e.a11y import structural_violations

PORTAL = "suomi-citizen-portal"
SCHOOL_START = {
    "dataset": "ece_placements",
    "purpose": "school_start_support",
    "legal_basis": "consent",
}
OFFER = "lahti-education-school-start-consent:school_start_support"
SESSION = re.compile(r'name="session" value="([^"]+)"')
CONSENT_ID = re.compile(r'name="consent_id" value="([^"]+)"')


def _child(store_url: str) -> str:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        code = conn.execute(
            sa.text(
                "SELECT child_id FROM ece_placements WHERE child_id IN "
                "(SELECT client_id FROM family_service_cases) ORDER BY child_id LIMIT 1"
            )
        ).scalar()
        if code is None:
            code = conn.execute(sa.text("SELECT min(child_id) FROM ece_placements")).scalar_one()
    engine.dispose()
    return str(code)


def _signed_in(client: TestClient, auth: Minter, person: str, lang: str = "en") -> tuple[str, str]:
    token = auth(PORTAL, person)["Authorization"].removeprefix("Bearer ")
    response = client.post(f"/me?lang={lang}", data={"token": token})
    assert response.status_code == 200, response.text
    assert "set-cookie" not in response.headers
    assert token not in response.text
    sessions = set(SESSION.findall(response.text))
    assert len(sessions) == 1
    return sessions.pop(), response.text


def _grant_form(session: str, **changes: object) -> dict[str, object]:
    return {
        "session": session,
        "agreement": OFFER,
        "field": ["child_id", "unit_name", "start_date", "end_date", "hours_per_week", "status"],
        "valid_until": "2099-01-01",
        **changes,
    }


def test_signing_in_shows_my_data_and_the_consents_i_can_give(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    ui = locales()["en"].ui
    _, page = _signed_in(client, auth, _child(store_url))
    assert ui["mydata_title"] in page and ui["consents_title"] in page
    assert "Early childhood education places" in page
    assert 'value="lahti-education-school-start-consent:school_start_support"' in page
    assert ui["consents_none"] in page
    assert structural_violations(page) == []


def test_a_citizen_grants_and_revokes_a_consent_through_the_page(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    ui = locales()["fi"].ui
    child = _child(store_url)
    session, _ = _signed_in(client, auth, child, "fi")
    granted = client.post("/me/consents?lang=fi", data=_grant_form(session))
    assert granted.status_code == 200, granted.text
    assert ui["consent_granted"] in granted.text and ui["status_valid"] in granted.text
    assert structural_violations(granted.text) == []
    shared = client.post("/v1/shares?limit=100", json=SCHOOL_START, headers=auth("lahti-education"))
    assert shared.status_code == 200
    assert {row["child_id"] for row in shared.json()["rows"]} == {child}

    (consent_id,) = CONSENT_ID.findall(granted.text)
    revoked = client.post(
        "/me/consents/revoke?lang=fi", data={"session": session, "consent_id": consent_id}
    )
    assert revoked.status_code == 200
    assert ui["consent_revoked"] in revoked.text and ui["status_revoked"] in revoked.text
    assert CONSENT_ID.findall(revoked.text) == []
    denied = client.post("/v1/shares?limit=100", json=SCHOOL_START, headers=auth("lahti-education"))
    assert denied.status_code == 403 and denied.json()["code"] == "consent_revoked"
    reasons = [str(row.reasons) for row in audit_rows(store_url)]
    assert any("consent_granted" in r for r in reasons)
    assert any("consent_revoked" in r for r in reasons)


def _consents(store_url: str) -> int:
    return int(scalar(store_url, "SELECT count(*) FROM subject_consents"))


@pytest.mark.parametrize(
    ("session_of", "headers", "status"),
    [
        ("none", {}, 401),
        ("forged", {}, 401),
        ("real", {"Sec-Fetch-Site": "cross-site"}, 403),
        ("real", {"Origin": "https://evil.example"}, 403),
    ],
)
def test_forms_without_the_pages_session_or_from_another_site_change_nothing(
    client: TestClient,
    auth: Minter,
    store_url: str,
    session_of: str,
    headers: dict[str, str],
    status: int,
) -> None:
    session, _ = _signed_in(client, auth, _child(store_url))
    chosen = {"none": "", "forged": session[:-4] + "AAAA", "real": session}[session_of]
    answer = client.post("/me/consents", data=_grant_form(chosen), headers=headers)
    assert answer.status_code == status
    assert _consents(store_url) == 0
    download = client.post(
        "/me/data", data={"session": chosen, "dataset": "persons", "format": "csv"}, headers=headers
    )
    assert download.status_code == status
    assert "attachment" not in download.headers.get("content-disposition", "")


def test_a_citizen_cannot_revoke_someone_elses_consent_from_the_page(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    child = _child(store_url)
    session, _ = _signed_in(client, auth, child)
    page = client.post("/me/consents", data=_grant_form(session)).text
    (consent_id,) = CONSENT_ID.findall(page)
    stranger, _ = _signed_in(client, auth, "010101-123N")
    answer = client.post(
        "/me/consents/revoke?lang=en", data={"session": stranger, "consent_id": consent_id}
    )
    assert answer.status_code == 404
    assert locales()["en"].ui["action_error"] in answer.text
    mine = client.get("/v1/subjects/me/consents", headers=auth(PORTAL, child)).json()
    assert [item["status"] for item in mine] == ["valid"]


def test_a_consent_outside_the_agreement_is_refused_on_the_page(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    session, _ = _signed_in(client, auth, _child(store_url))
    for changes in (
        {"field": ["monthly_fee_eur"]},
        {"valid_until": "2001-01-01"},
        {"valid_until": "not a date"},
        {"agreement": "lahti-education-ece-placement:ece_placement"},
        {"field": []},
    ):
        answer = client.post("/me/consents?lang=en", data=_grant_form(session, **changes))
        assert answer.status_code == 422, changes
        assert locales()["en"].ui["consent_error"] in answer.text
    assert _consents(store_url) == 0


def test_viewing_and_downloading_my_data_from_the_page(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    ui = locales()["sv"].ui
    child = _child(store_url)
    session, _ = _signed_in(client, auth, child, "sv")
    before = len(audit_rows(store_url))
    view = client.post(
        "/me/data?lang=sv", data={"session": session, "dataset": "ece_placements", "format": "html"}
    )
    assert view.status_code == 200
    assert "Daycare unit name" in view.text and "LPS_SIJ.YKS_KD" in view.text
    assert ui["record_caption"].format(number=1, count=1)[:4] in view.text
    assert structural_violations(view.text) == []
    cases = client.post(
        "/me/data?lang=sv",
        data={"session": session, "dataset": "family_service_cases", "format": "html"},
    )
    assert ui["withheld_title"] in cases.text and "case_type" in cases.text
    download = client.post(
        "/me/data", data={"session": session, "dataset": "ece_placements", "format": "csv"}
    )
    assert download.status_code == 200
    assert (
        download.headers["content-disposition"]
        == 'attachment; filename="tillit-ece_placements.csv"'
    )
    lines = list(csv.DictReader(io.StringIO(download.text)))
    assert {line["value"] for line in lines if line["field"] == "child_id"} == {child}
    as_json = client.post(
        "/me/data", data={"session": session, "dataset": "persons", "format": "json"}
    )
    assert json.loads(as_json.text)["datasets"][0]["rows"][0]["person_id"] == child
    assert len(audit_rows(store_url)) == before + 4
    page = client.post("/me?lang=sv", data={"session": session}).text
    assert page.count(ui["recipient_self"]) == 4


def test_a_page_session_expires_and_cannot_be_altered(app: object) -> None:
    runtime = app.state.runtime  # type: ignore[attr-defined]
    sessions = PageSessions(runtime.secrets.pseudonym_key)
    now = runtime.now()
    principal = Principal(
        partner_id=PORTAL,
        kind="citizen_portal",
        roles=(),
        subject="010101-123N",
        issuer="https://idp.suomi.fi/citizen",
        jti="j",
        client_id=PORTAL,
        expires_at=now,
    )
    sealed = sessions.issue(principal, now)
    assert sessions.open(sealed, now + timedelta(minutes=5)).subject == "010101-123N"
    with pytest.raises(AuthenticationError):
        sessions.open(sealed, now + SESSION_LIFETIME + timedelta(seconds=61))
    with pytest.raises(AuthenticationError):
        PageSessions(b"another key" * 4).open(sealed, now)
