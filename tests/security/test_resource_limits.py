"""Greedy requests over HTTP: huge or endless bodies, deep nesting, and page-size abuse are
refused with problem documents before they cost the broker anything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.broker.app.conftest import Minter
from tests.security.attack import ECE_REQUEST, assert_problem, table_count

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("limit", "code"),
    [
        ("1000000000", "invalid_request"),
        ("10001", "invalid_request"),
        ("0", "invalid_request"),
        ("-1", "invalid_request"),
        ("-9223372036854775809", "invalid_request"),
        ("1.5", "invalid_request"),
        ("1e3", "invalid_request"),
        ("ten", "invalid_request"),
        ("", "invalid_request"),
        ("0x10", "invalid_request"),
        ("NaN", "invalid_request"),
        ("9" * 5000, "invalid_request"),
    ],
)
def test_page_size_abuse_is_a_422(client: TestClient, auth: Minter, limit: str, code: str) -> None:
    response = client.post(
        "/v1/shares", params={"limit": limit}, json=ECE_REQUEST, headers=auth("lahti-education")
    )
    assert_problem(response, 422, code)


def test_the_largest_page_is_served_and_capped_by_the_agreement(
    client: TestClient, auth: Minter
) -> None:
    response = client.post(
        "/v1/shares?limit=10000", json=ECE_REQUEST, headers=auth("lahti-education")
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["rows"]) <= 10_000


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "x" * 2049}, "invalid_request"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"cursor": "A" * 2048}, "invalid_cursor"),
        ({"limit": ["5", "6"]}, None),
    ],
)
def test_cursor_abuse_is_refused(
    client: TestClient, auth: Minter, params: dict[str, object], code: str | None
) -> None:
    response = client.post(
        "/v1/shares", params=params, json=ECE_REQUEST, headers=auth("lahti-education")
    )
    if code is None:
        # A repeated parameter takes the last value; it is never an error of the server.
        assert response.status_code < 500
    else:
        assert_problem(response, 422, code)


def _endless_body(chunks: int) -> Iterator[bytes]:
    yield b'{"dataset": "persons", "padding": "'
    for _ in range(chunks):
        yield b"x" * 8192
    yield b'"}'


@pytest.mark.parametrize("authenticated", [True, False])
def test_a_chunked_body_without_length_is_cut_off_at_the_limit(
    client: TestClient, auth: Minter, authenticated: bool
) -> None:
    headers = {**JSON, **(auth("lahti-education") if authenticated else {})}
    response = client.post("/v1/shares", content=_endless_body(10_000), headers=headers)
    assert_problem(response, 413, "payload_too_large")
    assert table_count(client, "audit_log") == 0


def test_a_declared_huge_body_is_refused_before_it_is_sent(client: TestClient) -> None:
    headers = {**JSON, "Content-Length": str(10**12)}
    response = client.post("/v1/shares", content=b"{}", headers=headers)
    assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    "body",
    [
        b'{"filters": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"filters": ' + b'{"a":' * 2000 + b"1" + b"}" * 2000 + b"}",
        b"[" * 60_000,
        b'{"fields": [' + b"[" * 40 + b"]" * 40 + b"]}",
    ],
    ids=["arrays", "objects", "unclosed", "just-over-the-depth"],
)
def test_deep_nesting_is_a_422_without_parsing(
    client: TestClient, auth: Minter, body: bytes
) -> None:
    response = client.post("/v1/shares", content=body, headers={**JSON, **auth("lahti-education")})
    assert_problem(response, 422, "invalid_request")


@pytest.mark.parametrize(
    "change",
    [
        {"fields": [f"f{i}" for i in range(65)]},
        {"filters": {f"f{i}": 1 for i in range(17)}},
        {"dataset": "p" * 10_000},
        {"purpose": "../../etc/passwd"},
        {"dataset": "persons\u0000"},
        {"unexpected": True},
    ],
    ids=["too-many-fields", "too-many-filters", "long-name", "traversal", "nul", "extra-key"],
)
def test_oversized_or_odd_members_are_a_422(
    client: TestClient, auth: Minter, change: dict[str, object]
) -> None:
    response = client.post(
        "/v1/shares", json={**ECE_REQUEST, **change}, headers=auth("lahti-education")
    )
    assert_problem(response, 422, "invalid_request")


def test_an_overlong_idempotency_key_is_a_422(client: TestClient, auth: Minter) -> None:
    headers = {**auth("lahti-education"), "Idempotency-Key": "k" * 129}
    response = client.post("/v1/shares", json=ECE_REQUEST, headers=headers)
    assert_problem(response, 422, "invalid_request")


def test_the_slow_body_answer_is_documented(client: TestClient) -> None:
    responses = client.get("/openapi.json").json()["paths"]["/v1/shares"]["post"]["responses"]
    examples = responses["408"]["content"]["application/problem+json"]["examples"]
    assert {example["value"]["code"] for example in examples.values()} == {"request_timeout"}
