"""The catalog and citizens' pages as a person sees them, in headless Debian Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from broker.web.i18n import locales
from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import ECE_REQUEST
from tests.e2e.a11y import accessibility_violations

pytestmark = pytest.mark.browser


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _share(live_broker: str, auth: Minter) -> str:
    """A real share over HTTP, so one person has a disclosure; their identity code."""
    response = httpx.post(
        f"{live_broker}/v1/shares?limit=1", json=ECE_REQUEST, headers=auth("lahti-education")
    )
    assert response.status_code == 200, response.text
    return str(response.json()["rows"][0]["person_id"])


def _sign_in(page: Any, live_broker: str, query: str, token: str, label: str) -> Any:
    page.goto(f"{live_broker}/me{query}")
    page.get_by_label(label).fill(token)
    with page.expect_response(re.compile(r"/me(\?.*)?$")) as answer:
        page.locator("form button[type=submit]").click()
    return answer.value


def test_the_catalog_shows_datasets_classifications_and_who_may_use_them(
    page: Any, live_broker: str, artifacts: Path
) -> None:
    expect = _expect()
    page.goto(f"{live_broker}/catalog")
    expect(page.get_by_role("heading", level=1)).to_have_text("Data catalog")
    for name in _dataset_names():
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    fields = page.get_by_role("table", name="Fields of persons with their classification")
    person_id = fields.get_by_role("row").filter(has_text="person_id")
    expect(person_id).to_contain_text("personal")
    expect(person_id).to_contain_text("direct")
    agreements = page.get_by_role("table", name="Agreements in force on persons")
    education = agreements.get_by_role("row").filter(has_text="lahti-education-ece-placement")
    expect(education).to_contain_text("City of Lahti, education and training division")
    expect(education).to_contain_text("ece_placement")
    expect(education.get_by_role("link", name=re.compile("Early Childhood"))).to_have_attribute(
        "href", "https://www.finlex.fi/fi/laki/ajantasa/2018/20180540"
    )
    page.screenshot(path=artifacts / "catalog.png")
    page.screenshot(path=artifacts / "catalog-full.png", full_page=True)
    page.locator("section#persons").screenshot(path=artifacts / "catalog-persons.png")
    assert accessibility_violations(page) == []


def _dataset_names() -> list[str]:
    # The catalog's own JSON needs a token; the contract registry is the same source.
    from contracts.registry import all_contracts

    return [contract.name for contract in all_contracts()]


@pytest.mark.parametrize(
    ("language", "query", "recipient", "purpose", "law"),
    [
        (
            "fi",
            "",
            "Lahden kaupunki, kasvatuksen ja opetuksen toimiala",
            "Lapsen varhaiskasvatuspaikan järjestäminen",
            "Varhaiskasvatuslaki (540/2018)",
        ),
        (
            "sv",
            "?lang=sv",
            "Lahtis stad, sektorn för fostran och utbildning",
            "Att ordna en plats i småbarnspedagogik för ett barn",
            "Lagen om småbarnspedagogik (540/2018)",
        ),
        (
            "en",
            "?lang=en",
            "City of Lahti, education and training division",
            "Finding a child a place in early childhood education and care",
            "Act on Early Childhood Education and Care (540/2018)",
        ),
    ],
    ids=["fi", "sv", "en"],
)
def test_a_citizen_sees_who_received_their_data_in_their_language(
    page: Any,
    live_broker: str,
    auth: Minter,
    artifacts: Path,
    language: str,
    query: str,
    recipient: str,
    purpose: str,
    law: str,
) -> None:
    expect = _expect()
    ui = locales()[language].ui
    person = _share(live_broker, auth)
    token = auth("suomi-citizen-portal", person)["Authorization"].removeprefix("Bearer ")
    page.goto(f"{live_broker}/me{query}")
    expect(page.locator("html")).to_have_attribute("lang", language)
    assert accessibility_violations(page) == []
    answer = _sign_in(page, live_broker, query, token, ui["token_label"])
    assert answer.status == 200
    assert answer.headers["cache-control"] == "no-store"
    expect(page.get_by_role("heading", level=1)).to_have_text(ui["disclosures_title"])
    row = page.get_by_role("table", name=ui["disclosures_caption"]).get_by_role("row").nth(1)
    expect(row).to_contain_text(recipient)
    expect(row).to_contain_text(purpose)
    expect(row.get_by_role("link", name=law)).to_have_attribute(
        "href", "https://www.finlex.fi/fi/laki/ajantasa/2018/20180540"
    )
    expect(page.locator("body")).not_to_contain_text(person)
    assert token not in page.content()
    assert page.context.cookies() == []
    page.screenshot(path=artifacts / f"me-{language}.png", full_page=True)
    assert accessibility_violations(page) == []
    page.get_by_role("link", name=ui["rights_link"]).click()
    expect(page.get_by_role("heading", level=2, name=ui["object_heading"])).to_be_visible()
    assert accessibility_violations(page) == []


def test_a_wrong_token_shows_an_error_and_no_data(
    page: Any, live_broker: str, auth: Minter, artifacts: Path
) -> None:
    expect = _expect()
    ui = locales()["fi"].ui
    _share(live_broker, auth)
    answer = _sign_in(page, live_broker, "", "eyJhbGciOiJFUzI1NiJ9.forged.token", ui["token_label"])
    assert answer.status == 401
    expect(page.get_by_role("alert")).to_contain_text(ui["error_401"])
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_label(ui["token_label"])).to_have_value("")
    page.screenshot(path=artifacts / "me-error.png", full_page=True)
    assert accessibility_violations(page) == []
