"""Huge, streamed and deeply nested bodies and request floods get 413, 422 and 429, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from broker.api.limits import DEFAULT_MAX_BODY_BYTES, RateLimiter, json_depth_exceeds
from broker.errors import RateLimited
from tests.broker.api.conftest import TinyApp, assert_problem, build_app
from tests.broker.tokens import FakeClock

CHUNK = 1024


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_body_over_the_limit_by_content_length_is_413(tiny: TinyApp) -> None:
    body = b'{"dataset": "' + b"x" * DEFAULT_MAX_BODY_BYTES + b'"}'
    response = TestClient(tiny.app).post(
        "/v1/shares", content=body, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "payload_too_large")
    assert tiny.calls == []


@pytest.mark.anyio
async def test_declared_length_is_refused_before_reading_the_body(tiny: TinyApp) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/shares",
        "raw_path": b"/v1/shares",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-length", b"1000000000"), (b"expect", b"100-continue")],
        "server": ("testserver", 80),
        "client": ("192.0.2.1", 50000),
    }
    await tiny.app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "payload_too_large"
    assert tiny.calls == []


async def _post_stream(tiny: TinyApp, path: str, chunks: AsyncIterator[bytes]) -> httpx.Response:
    transport = httpx.ASGITransport(app=tiny.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.post(path, content=chunks)


@pytest.mark.anyio
async def test_streamed_body_is_cut_off_at_the_limit(tiny: TinyApp) -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * CHUNK

    response = await _post_stream(tiny, "/echo", endless())
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload_too_large")
    # Reading stopped at the limit: the endless upload was never buffered.
    assert pulled <= DEFAULT_MAX_BODY_BYTES // CHUNK + 1
    assert tiny.calls == []


@pytest.mark.anyio
async def test_streamed_body_under_the_limit_reaches_the_route_intact(tiny: TinyApp) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for index in range(10):
            yield bytes([index]) * CHUNK

    response = await _post_stream(tiny, "/echo", chunks())
    assert response.json() == {"bytes": 10 * CHUNK}
    assert tiny.calls == [b"".join(bytes([index]) * CHUNK for index in range(10))]


def test_deeply_nested_json_is_422_not_500() -> None:
    # A megabyte limit, so the nesting check, not the size check, is what answers.
    tiny = build_app(max_body_bytes=1 << 20)
    body = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(body)  # what the route's parser would do without the check
    for content_type in ("application/json", "application/merge-patch+json", None):
        headers = {"content-type": content_type} if content_type else {}
        response = TestClient(tiny.app, raise_server_exceptions=False).post(
            "/v1/shares", content=body, headers=headers
        )
        document = assert_problem(response, 422, "invalid_request")
        assert document["errors"] == [
            {"loc": ["body"], "msg": "JSON nested deeper than 32 levels", "type": "json_too_deep"}
        ]
    assert tiny.calls == []


def test_nesting_under_the_default_size_limit_is_also_refused(tiny: TinyApp) -> None:
    response = TestClient(tiny.app).post(
        "/v1/shares", content=b"{" * 60_000, headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "invalid_request")


def test_brackets_inside_strings_do_not_count(tiny: TinyApp) -> None:
    purpose = '[{"\\' * 500
    response = TestClient(tiny.app).post(
        "/v1/shares", json={"dataset": "population", "purpose": purpose}
    )
    assert response.status_code == 200, response.text
    assert tiny.calls[0].purpose == purpose


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


_TRICKY_TEXT = st.text(alphabet='[]{}"\\,: aä\n\u2028') | st.text()
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TRICKY_TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(_TRICKY_TEXT, children, max_size=3)
    ),
    max_leaves=30,
)


@given(value=_JSON_VALUES, max_depth=st.integers(0, 8), ascii_only=st.booleans())
def test_depth_scan_agrees_with_the_parsed_structure(
    value: Any, max_depth: int, ascii_only: bool
) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert json_depth_exceeds(body, max_depth) == (_depth(value) > max_depth)


def test_rate_limit_allows_the_burst_then_429_with_retry_after(tiny: TinyApp) -> None:
    client = TestClient(tiny.app)
    kela = {"X-Partner": "kela"}
    assert [client.get("/limited", headers=kela).status_code for _ in range(2)] == [200, 200]
    response = client.get("/limited", headers=kela)
    assert_problem(response, 429, "rate_limited")
    assert response.headers["retry-after"] == "1"
    assert client.get("/limited", headers={"X-Partner": "stat"}).status_code == 200
    tiny.clock.advance(1.0)
    assert client.get("/limited", headers=kela).status_code == 200
    assert client.get("/limited", headers=kela).status_code == 429


def test_retry_after_is_the_time_until_the_next_token() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_minute=6, burst=1, clock=clock)
    limiter.check("kela")
    clock.advance(2.5)
    with pytest.raises(RateLimited) as refused:
        limiter.check("kela")
    assert refused.value.headers == {"Retry-After": "8"}
    clock.advance(7.5)
    limiter.check("kela")


def test_concurrent_requests_never_exceed_the_burst() -> None:
    limiter = RateLimiter(rate_per_minute=60, burst=100, clock=FakeClock())

    def attempt(_: int) -> bool:
        try:
            limiter.check("kela")
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(400)))
    assert outcomes.count(True) == 100


def test_memory_stays_bounded_and_idle_partners_are_forgotten() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_minute=60, burst=5, clock=clock, max_keys=100)
    for index in range(1_000):
        limiter.check(f"partner-{index}")
    assert len(limiter) == 100
    clock.advance(5.0)  # long enough for every bucket to be full again
    limiter.check("kela")
    assert len(limiter) == 1
