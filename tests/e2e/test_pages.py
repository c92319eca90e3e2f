"""The catalog and citizens' pages over HTTP: content, languages, headers, and failures."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from broker.web.i18n import LANGUAGES, locales, negotiate
from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import ECE_REQUEST
from tests.e2e.a11y import structural_violations

CSP = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'"


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _share_and_identity_code(client: TestClient, auth: Minter) -> str:
    shared = client.post("/v1/shares?limit=1", json=ECE_REQUEST, headers=auth("lahti-education"))
    assert shared.status_code == 200, shared.text
    return str(shared.json()["rows"][0]["person_id"])


def _assert_page_headers(response: object, *, private: bool) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert ("no-store" in headers.get("cache-control", "")) is private
    assert "set-cookie" not in headers


def test_the_public_catalog_needs_no_token_and_shows_every_dataset(client: TestClient) -> None:
    response = client.get("/catalog")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    _assert_page_headers(response, private=False)
    page = response.text
    for name in client.app.state.runtime.contracts:  # type: ignore[attr-defined]
        assert f'id="{name}-heading"' in page
    assert "team:population-data" in page
    assert "City of Lahti, education and training division" in page
    assert "https://www.finlex.fi/fi/laki/ajantasa/2018/20180540" in page
    assert structural_violations(page) == []


def test_the_stylesheet_is_served_by_the_broker(client: TestClient) -> None:
    response = client.get("/assets/tillit.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("query", "accept_language", "expected"),
    [
        ("", None, "fi"),
        ("", "sv-FI,sv;q=0.9,en;q=0.5", "sv"),
        ("", "de-DE, en;q=0.7, fi;q=0.3", "en"),
        ("?lang=en", "sv", "en"),
        ("?lang=xx", "sv", "sv"),
    ],
)
def test_the_sign_in_page_speaks_the_readers_language(
    client: TestClient, query: str, accept_language: str | None, expected: str
) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = client.get(f"/me{query}", headers=headers)
    assert response.status_code == 200
    _assert_page_headers(response, private=True)
    assert f'<html lang="{expected}">' in response.text
    assert locales()[expected].ui["token_label"] in response.text
    assert structural_violations(response.text) == []


def test_a_signed_in_citizen_sees_who_received_their_data(client: TestClient, auth: Minter) -> None:
    person = _share_and_identity_code(client, auth)
    token = _token(auth("suomi-citizen-portal", person))
    response = client.post("/me?lang=sv", data={"token": token})
    assert response.status_code == 200, response.text
    _assert_page_headers(response, private=True)
    page = response.text
    assert "Lahtis stad, sektorn för fostran och utbildning" in page
    assert "Att ordna en plats i småbarnspedagogik för ett barn" in page
    assert "Lagen om småbarnspedagogik (540/2018)" in page
    assert "https://www.finlex.fi/fi/laki/ajantasa/2018/20180540" in page
    assert token not in page and person not in page
    assert structural_violations(page) == []
    again = client.post("/me", data={"token": token})
    assert again.status_code == 401, "a citizen-portal token signs in only once"


def test_a_person_without_disclosures_is_told_so(client: TestClient, auth: Minter) -> None:
    token = _token(auth("suomi-citizen-portal", "010101-123N"))
    response = client.post("/me?lang=en", data={"token": token})
    assert response.status_code == 200
    assert "Your data has not been disclosed through Tillit." in response.text
    assert '<table class="disclosures">' not in response.text
    assert '<table class="consents">' not in response.text
    assert "You have not given any consents." in response.text


@pytest.mark.parametrize(
    ("token_of", "status", "message_key"),
    [
        ("garbage", 401, "error_401"),
        ("", 401, "error_401"),
        ("lahti-education", 403, "error_403"),
    ],
)
def test_a_failed_sign_in_shows_an_error_and_no_data(
    client: TestClient, auth: Minter, token_of: str, status: int, message_key: str
) -> None:
    _share_and_identity_code(client, auth)
    fixed = {"garbage": "eyJhbGciOi.not-a-token", "": ""}
    token = fixed[token_of] if token_of in fixed else _token(auth(token_of))
    response = client.post("/me?lang=fi", data={"token": token})
    assert response.status_code == status
    _assert_page_headers(response, private=True)
    assert locales()["fi"].ui[message_key] in response.text
    assert "<table" not in response.text
    assert not token or token not in response.text


def test_a_non_form_body_is_treated_as_no_sign_in(client: TestClient) -> None:
    response = client.post("/me", json={"token": "x"})
    assert response.status_code == 401
    assert "<table" not in response.text


def test_the_rights_page_explains_objection_and_restriction(client: TestClient) -> None:
    for language in LANGUAGES:
        response = client.get(f"/me/rights?lang={language}")
        assert response.status_code == 200
        ui = locales()[language].ui
        assert ui["object_heading"] in response.text and ui["restrict_heading"] in response.text
        assert "21" in ui["object_heading"] and "18" in ui["restrict_heading"]
        assert structural_violations(response.text) == []


def test_every_configured_purpose_and_law_reads_in_finnish_and_swedish(
    client: TestClient,
) -> None:
    config = client.app.state.runtime.config  # type: ignore[attr-defined]
    for language in ("fi", "sv"):
        locale = locales()[language]
        assert set(config.purposes) <= set(locale.purposes), language
        assert set(config.legal_bases) <= set(locale.legal_bases), language
        assert set(client.app.state.runtime.contracts) <= set(locale.datasets), language  # type: ignore[attr-defined]
        receivers = {p.id for p in config.partners.values() if p.kind in ("agency", "statistics")}
        assert receivers <= set(locale.partners), language


def test_quality_values_choose_the_language() -> None:
    assert negotiate(None, "en;q=0.2, sv;q=0.8") == "sv"
    assert negotiate(None, "en;q=oops, sv;q=0.1") == "sv"
    assert negotiate(None, None) == "fi"


def test_the_accessibility_check_catches_what_it_claims_to() -> None:
    broken = (
        "<html><body><main><h1>A</h1><h3>B</h3><h1>C</h1><textarea name='t'></textarea>"
        "<img src='x.png'><table><tr><th>x</th></tr></table><a href='/x'></a></main></body></html>"
    )
    problems = "\n".join(structural_violations(broken))
    for expected in (
        "no lang",
        "exactly one h1",
        "h1 followed by h3",
        "without a label: t",
        "img without alt",
        "has no caption",
        "lacks th cells with scope",
        "not a skip link",
    ):
        assert expected in problems, expected
