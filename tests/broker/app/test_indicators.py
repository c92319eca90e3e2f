"""Indicators as JSON: denied by default, released under an agreement as an audited share."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from fastapi.testclient import TestClient

from contracts.leaders import all_indicators
from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import audit_rows

RELEASE = {"purpose": "knowledge_management", "legal_basis": "secondary_use_act_552_2019"}


def _store_table(store_url: str) -> pd.DataFrame:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        frame = pd.read_sql("select * from daycare_within_four_months", conn)
    engine.dispose()
    return frame


def test_a_partner_without_an_agreement_is_denied_and_the_denial_is_audited(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    response = client.get("/v1/indicators", params=RELEASE, headers=auth("lahti-education"))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "no_agreement"
    [record] = audit_rows(store_url)
    assert (record.decision, record.partner, record.dataset) == (
        "deny",
        "lahti-education",
        "daycare_within_four_months",
    )


def test_the_wrong_legal_basis_is_denied_even_with_an_agreement(
    client: TestClient, auth: Minter
) -> None:
    params = {**RELEASE, "legal_basis": "statistics_act_280_2004"}
    response = client.get("/v1/indicators", params=params, headers=auth("lahti-analytics"))
    assert response.status_code == 403
    assert response.json()["code"] == "legal_basis_mismatch"


def test_citizens_and_operators_are_not_partners(client: TestClient, auth: Minter) -> None:
    response = client.get(
        "/v1/indicators", params=RELEASE, headers=auth("suomi-citizen-portal", "010101-123N")
    )
    assert response.status_code == 403


def test_the_purpose_must_be_named(client: TestClient, auth: Minter) -> None:
    response = client.get("/v1/indicators", headers=auth("lahti-analytics"))
    assert response.status_code == 422
    assert response.json()["code"]


def test_an_agreement_releases_the_store_numbers_as_one_audited_share(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    response = client.get("/v1/indicators", params=RELEASE, headers=auth("lahti-analytics"))
    assert response.status_code == 200, response.text
    answer = response.json()["indicators"]
    assert [item["id"] for item in answer] == [indicator.id for indicator in all_indicators()]
    [record] = audit_rows(store_url)
    assert (record.decision, record.partner, record.dataset, record.share_id) == (
        "permit",
        "lahti-analytics",
        "daycare_within_four_months",
        answer[0]["share_id"],
    )
    stored = _store_table(store_url).set_index(["month", "district", "segment"])
    rate = answer[0]
    assert rate["lineage"] == "/v1/lineage/datasets/tillit://store/daycare_within_four_months"
    assert {"name": "persons", "version": "1.0.0", "catalog": "/catalog#persons"} in rate[
        "contracts"
    ]
    assert len(rate["values"]) == len(stored)
    for point in rate["values"]:
        row = stored.loc[(point["month"], point["district"], point["segment"])]
        expected = None if pd.isna(row["placed"]) else int(row["placed"])
        assert point["numerator"] == expected
        if point["value"] is not None:
            assert point["value"] == round(100 * row["placed"] / row["children"], 1)
        else:
            assert pd.isna(row["placed"]) or pd.isna(row["children"]) or row["children"] == 0


def test_one_indicator_and_an_unknown_one(client: TestClient, auth: Minter) -> None:
    wanted = "children_without_place_after_four_months"
    response = client.get(
        f"/v1/indicators/{wanted}", params=RELEASE, headers=auth("lahti-analytics")
    )
    assert response.status_code == 200, response.text
    assert response.json()["unit"] == "children"
    assert response.json()["target"] == {"value": 5.0, "direction": "at_most"}
    missing = client.get("/v1/indicators/nope", params=RELEASE, headers=auth("lahti-analytics"))
    assert missing.status_code == 404
    assert missing.json()["code"]
