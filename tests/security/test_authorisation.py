"""Who may read what: receipts, share traces and agreements stay with their partner (404, and
the same 404 as for an id that does not exist), and each kind of caller keeps to its endpoints."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from lineage.outbox import OutboxShipper
from lineage.transports import build_transport
from tests.broker.app.conftest import Minter
from tests.security.attack import ECE_REQUEST, assert_problem

OWNER = "lahti-education"
OTHERS = ("kela", "lahti-analytics", "statistics-finland", "asikkala", "phhyky-family-services")
CITIZEN = ("suomi-citizen-portal", "131052-308T")
OPERATOR = "tillit-operations"


def _share(client: TestClient, auth: Minter, store_url: str) -> str:
    response = client.post("/v1/shares?limit=3", json=ECE_REQUEST, headers=auth(OWNER))
    assert response.status_code == 200, response.text
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    OutboxShipper(runtime.engine, build_transport(store_url), runtime.clock).ship_once()
    return str(response.json()["share_id"])


def _without_instance(response: httpx.Response) -> dict[str, Any]:
    body = assert_problem(response, 404, "not_found")
    return {name: value for name, value in body.items() if name != "instance"}


def _header_shape(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name != "date"}


@pytest.mark.parametrize("path", ["/v1/shares/{id}", "/v1/lineage/shares/{id}"])
def test_another_partners_share_looks_exactly_like_a_missing_one(
    client: TestClient, auth: Minter, store_url: str, path: str
) -> None:
    share_id = _share(client, auth, store_url)
    assert client.get(path.format(id=share_id), headers=auth(OWNER)).status_code == 200
    for other in OTHERS:
        theirs = client.get(path.format(id=share_id), headers=auth(other))
        missing = client.get(path.format(id=uuid.uuid4()), headers=auth(other))
        assert _without_instance(theirs) == _without_instance(missing)
        # Same length of id, so even Content-Length cannot tell the two apart.
        assert _header_shape(theirs) == _header_shape(missing)


def test_another_partners_deliveries_are_invisible_in_the_lineage_graph(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    _share(client, auth, store_url)
    path = "/v1/lineage/datasets/tillit://partner/{partner}/persons"
    own = client.get(path.format(partner=OWNER), headers=auth(OWNER))
    assert own.status_code == 200, own.text
    for other in OTHERS:
        theirs = client.get(path.format(partner=OWNER), headers=auth(other))
        nobody = client.get(path.format(partner="no-such-partner"), headers=auth(other))
        assert _without_instance(theirs) == _without_instance(nobody)
        downstream = client.get(
            "/v1/lineage/datasets/tillit://store/persons",
            params={"direction": "downstream"},
            headers=auth(other),
        )
        assert_problem(downstream, 404, "not_found")


@pytest.mark.parametrize("partner", [OWNER, *OTHERS])
def test_a_partner_sees_only_its_own_agreements(
    client: TestClient, auth: Minter, partner: str
) -> None:
    config = client.app.state.runtime.config  # type: ignore[attr-defined]
    own = {a.id for a in config.agreements if a.partner == partner}
    listed = client.get("/v1/agreements", headers=auth(partner))
    assert listed.status_code == 200, listed.text
    assert {a["id"] for a in listed.json()} == own
    catalog = client.get("/v1/catalog", headers=auth(partner)).json()
    shown = {a["agreement_id"] for entry in catalog for a in entry["your_agreements"]}
    assert shown == own
    for dataset in {entry["name"] for entry in catalog}:
        entry = client.get(f"/v1/catalog/{dataset}", headers=auth(partner)).json()
        assert {a["agreement_id"] for a in entry["your_agreements"]} <= own


PARTNER_ONLY = [
    ("POST", "/v1/shares"),
    ("GET", "/v1/shares/{id}"),
    ("GET", "/v1/catalog"),
    ("GET", "/v1/catalog/persons"),
    ("GET", "/v1/agreements"),
]
PARTNER_OR_OPERATOR = [
    ("GET", "/v1/lineage/shares/{id}"),
    ("GET", "/v1/lineage/datasets/tillit://store/persons"),
]
ROLE_MATRIX: list[tuple[str, str, str]] = [
    *((method, path, caller) for method, path in PARTNER_ONLY for caller in ("citizen", OPERATOR)),
    *((method, path, "citizen") for method, path in PARTNER_OR_OPERATOR),
    *(
        ("GET", "/v1/subjects/me/disclosures", caller)
        for caller in (OWNER, "statistics-finland", OPERATOR)
    ),
    *(("GET", "/v1/audit/verify", caller) for caller in (OWNER, "statistics-finland", "citizen")),
]


@pytest.mark.parametrize(("method", "path", "caller"), ROLE_MATRIX)
def test_each_kind_of_caller_keeps_to_its_endpoints(
    client: TestClient, auth: Minter, store_url: str, method: str, path: str, caller: str
) -> None:
    share_id = _share(client, auth, store_url)
    headers = auth(*CITIZEN) if caller == "citizen" else auth(caller)
    url = path.format(id=share_id)
    response = client.request(
        method, url, headers=headers, json=ECE_REQUEST if method == "POST" else None
    )
    assert_problem(response, 403, "forbidden")


def test_the_callers_each_endpoint_is_for_get_in(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    """The matrix above refuses only the wrong callers: the right ones are served."""
    share_id = _share(client, auth, store_url)
    assert client.get(f"/v1/shares/{share_id}", headers=auth(OWNER)).status_code == 200
    assert client.get("/v1/catalog", headers=auth("statistics-finland")).status_code == 200
    assert client.get(f"/v1/lineage/shares/{share_id}", headers=auth(OPERATOR)).status_code == 200
    assert client.get("/v1/subjects/me/disclosures", headers=auth(*CITIZEN)).status_code == 200
    assert client.get("/v1/audit/verify", headers=auth(OPERATOR)).status_code == 200
