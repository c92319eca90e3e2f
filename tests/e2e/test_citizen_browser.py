"""A family uses its own data and gives and revokes a consent, in headless Debian Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from broker.web.i18n import locales
from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import scalar
from tests.e2e.a11y import accessibility_violations

pytestmark = pytest.mark.browser
SCHOOL_START = {
    "dataset": "ece_placements",
    "purpose": "school_start_support",
    "legal_basis": "consent",
}


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _child(store_url: str) -> str:
    return str(scalar(store_url, "SELECT min(child_id) FROM ece_placements"))


def _school_asks(live_broker: str, auth: Minter) -> httpx.Response:
    return httpx.post(
        f"{live_broker}/v1/shares?limit=100", json=SCHOOL_START, headers=auth("lahti-education")
    )


def _heading(page: Any, name: str) -> Any:
    return page.get_by_role("heading", level=2, name=name, exact=True)


def _sign_in(page: Any, live_broker: str, language: str, token: str) -> None:
    ui = locales()[language].ui
    page.goto(f"{live_broker}/me?lang={language}")
    page.get_by_label(ui["token_label"]).fill(token)
    with page.expect_response(re.compile(r"/me(\?.*)?$")) as answer:
        page.locator("form button[type=submit]").click()
    assert answer.value.status == 200


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_a_family_views_its_data_and_gives_and_revokes_a_consent(
    page: Any,
    live_broker: str,
    auth: Minter,
    store_url: str,
    artifacts: Path,
    language: str,
) -> None:
    expect = _expect()
    ui = locales()[language].ui
    child = _child(store_url)
    token = auth("suomi-citizen-portal", child)["Authorization"].removeprefix("Bearer ")
    _sign_in(page, live_broker, language, token)
    expect(_heading(page, ui["mydata_title"])).to_be_visible()
    expect(_heading(page, ui["consents_title"])).to_be_visible()
    assert page.context.cookies() == []
    assert accessibility_violations(page) == []
    page.screenshot(path=artifacts / f"me-mydata-{language}.png", full_page=True)

    placements = locales()[language].datasets["ece_placements"]
    page.get_by_role("button", name=f"{ui['view_button']}: {placements}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(placements)
    expect(page.get_by_role("table").first).to_contain_text(child)
    expect(page.get_by_role("table").first).to_contain_text("LPS_SIJ.YKS_KD")
    assert accessibility_violations(page) == []
    page.screenshot(path=artifacts / f"me-data-view-{language}.png", full_page=True)
    page.get_by_role("button", name=ui["back_to_overview"], exact=True).click()
    expect(_heading(page, ui["mydata_title"])).to_be_visible()

    with page.expect_download() as download_info:
        page.get_by_role("button", name=f"{ui['download_csv']}: {placements}").click()
    download = download_info.value
    assert download.suggested_filename == "tillit-ece_placements.csv"
    assert child in Path(download.path()).read_text(encoding="utf-8")

    assert _school_asks(live_broker, auth).json()["code"] == "consent_missing"
    page.get_by_role("button", name=ui["grant_button"], exact=True).click()
    expect(page.get_by_role("status")).to_have_text(ui["consent_granted"])
    consents = page.get_by_role("table", name=ui["consents_caption"])
    expect(consents.get_by_role("row").nth(1)).to_contain_text(ui["status_valid"])
    assert accessibility_violations(page) == []
    page.screenshot(path=artifacts / f"me-consent-given-{language}.png", full_page=True)
    released = _school_asks(live_broker, auth)
    assert released.status_code == 200
    assert {row["child_id"] for row in released.json()["rows"]} == {child}

    page.get_by_role("button", name=re.compile(re.escape(ui["revoke_button"]))).click()
    expect(page.get_by_role("status")).to_have_text(ui["consent_revoked"])
    expect(consents.get_by_role("row").nth(1)).to_contain_text(ui["status_revoked"])
    assert accessibility_violations(page) == []
    page.screenshot(path=artifacts / f"me-consent-revoked-{language}.png", full_page=True)
    assert _school_asks(live_broker, auth).json()["code"] == "consent_revoked"
    assert page.context.cookies() == []
