"""The leaders' page as a person sees it in headless Debian Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from broker.web.leaders import indicator_locales
from contracts.leaders import all_indicators
from tests.broker.app.conftest import Minter
from tests.e2e.a11y import accessibility_violations
from tests.indicator_data import seed_indicator_table

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(store_url: str) -> pd.DataFrame:
    return seed_indicator_table(store_url)


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_a_leader_signs_in_and_sees_each_indicator_against_its_target(
    seeded: pd.DataFrame,
    page: Any,
    live_broker: str,
    auth: Minter,
    artifacts: Path,
    lang: str,
) -> None:
    expect = _expect()
    ui = indicator_locales()[lang].ui
    page.goto(f"{live_broker}/indicators?lang={lang}")
    expect(page.get_by_role("heading", level=1)).to_have_text(ui["title"])
    assert accessibility_violations(page) == []
    token = auth("lahti-analytics")["Authorization"].removeprefix("Bearer ")
    page.get_by_label(ui["token_label"]).fill(token)
    with page.expect_response(lambda r: "/indicators" in r.url and r.request.method == "POST") as a:
        page.get_by_role("button", name=ui["sign_in_button"]).click()
    assert a.value.status == 200
    for indicator in all_indicators():
        chart = page.get_by_role("img", name=indicator.title[lang])
        expect(chart).to_be_visible()
    rate = all_indicators()[0]
    trend = page.get_by_role("table", name=ui["trend_caption"].format(title=rate.title[lang]))
    first = seeded[(seeded["district"] == "Total") & (seeded["segment"] == "Total")].iloc[0]
    row = trend.get_by_role("row").filter(has_text=str(first["month"]))
    expect(row).to_contain_text(f"{int(first['placed'])} / {int(first['children'])}")
    catalog = page.get_by_role("link", name="persons 1.0.0").first
    expect(catalog).to_have_attribute("href", "/catalog#persons")
    assert token not in page.content()
    page.screenshot(path=artifacts / f"indicators-{lang}.png", full_page=True)
    page.locator(f"article#{rate.id} figure").screenshot(
        path=artifacts / f"indicators-chart-{lang}.png"
    )
    assert accessibility_violations(page) == []


def test_a_partner_without_an_agreement_sees_the_refusal_and_no_chart(
    seeded: pd.DataFrame, page: Any, live_broker: str, auth: Minter, artifacts: Path
) -> None:
    expect = _expect()
    ui = indicator_locales()["en"].ui
    page.goto(f"{live_broker}/indicators?lang=en")
    page.get_by_label(ui["token_label"]).fill(
        auth("lahti-education")["Authorization"].removeprefix("Bearer ")
    )
    page.get_by_role("button", name=ui["sign_in_button"]).click()
    expect(page.get_by_role("alert")).to_contain_text("no_agreement")
    expect(page.get_by_role("img")).to_have_count(0)
    assert accessibility_violations(page) == []
