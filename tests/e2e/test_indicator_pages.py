"""The leaders' page over HTTP: definitions for everyone, numbers only under an agreement."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from broker.web.leaders import indicator_locales
from contracts.leaders import all_indicators
from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import audit_rows
from tests.e2e.a11y import structural_violations
from tests.indicator_data import seed_indicator_table


@pytest.fixture
def seeded(store_url: str) -> pd.DataFrame:
    return seed_indicator_table(store_url)


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_the_page_shows_goals_targets_and_contracts_but_no_numbers_without_sign_in(
    seeded: pd.DataFrame, client: TestClient, lang: str
) -> None:
    response = client.get(f"/indicators?lang={lang}")
    assert response.status_code == 200
    page = response.text
    assert f'<html lang="{lang}">' in page
    for indicator in all_indicators():
        assert indicator.title[lang] in page
    assert 'href="/catalog#persons"' in page
    assert "/v1/lineage/datasets/tillit://store/daycare_within_four_months" in page
    assert "<svg" not in page
    assert structural_violations(page) == []


def test_a_partner_without_an_agreement_sees_why_and_no_numbers(
    seeded: pd.DataFrame, client: TestClient, auth: Minter, store_url: str
) -> None:
    token = _token(auth("lahti-education"))
    response = client.post("/indicators?lang=en", data={"token": token})
    assert response.status_code == 403
    assert "no_agreement" in response.text
    assert "<svg" not in response.text
    assert token not in response.text
    assert [row.decision for row in audit_rows(store_url)] == ["deny"]


def test_a_garbage_token_is_a_401_page(seeded: pd.DataFrame, client: TestClient) -> None:
    response = client.post("/indicators?lang=fi", data={"token": "not-a-token"})
    assert response.status_code == 401
    assert indicator_locales()["fi"].ui["error_title"] in response.text


def test_a_partner_with_an_agreement_sees_the_store_numbers_in_charts_and_tables(
    seeded: pd.DataFrame, client: TestClient, auth: Minter, store_url: str
) -> None:
    response = client.post("/indicators?lang=en", data={"token": _token(auth("lahti-analytics"))})
    assert response.status_code == 200, response.text
    page = response.text
    assert page.count('<svg role="img"') == len(all_indicators())
    totals = seeded[(seeded["district"] == "Total") & (seeded["segment"] == "Total")]
    for row in totals.itertuples():
        if pd.notna(row.placed) and pd.notna(row.children):
            assert f"{100 * row.placed / row.children:.1f} %" in page
            assert f"{row.placed} / {row.children}" in page
    # A suppressed district never shows a number.
    kivimaa = re.search(r"<th scope=\"row\">Kivimaa-Kartano</th>(.*?)</tr>", page, re.S)
    assert kivimaa is not None and re.search(r"\d", kivimaa.group(1)) is None
    [record] = audit_rows(store_url)
    assert (record.decision, record.partner, record.dataset) == (
        "permit",
        "lahti-analytics",
        "daycare_within_four_months",
    )
    assert structural_violations(page) == []
