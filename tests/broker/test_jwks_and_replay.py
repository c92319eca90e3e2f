"""Issuer key sets (rate-limited refresh, last good keys, safe fetching) and replay protection."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from broker.auth import DefaultJwksFetcher, InMemoryReplayCache, JwksProvider
from broker.auth.jwks import JwkSet, KeyNotCached
from broker.config import Partner
from broker.config.jwks import JwksError, parse_jwks
from broker.config.keys import public_jwk
from broker.errors import AuthenticationError, ServiceUnavailable
from tests.broker.tokens import FakeClock

INTERVAL = 60.0


def _jwk() -> dict[str, Any]:
    return public_jwk(ec.generate_private_key(ec.SECP256R1()))


def _partner(tmp_path: Path, keys: list[dict[str, Any]]) -> Partner:
    jwks_file = tmp_path / "partner.jwks.json"
    jwks_file.write_text(json.dumps({"keys": keys}))
    return Partner(
        id="kela",
        name="Kela",
        kind="agency",
        issuer="https://idp.kela.fi",
        jwks_file=jwks_file,
        algorithms=("ES256",),
    )


class CountingFetcher:
    """Delegates to the real fetcher, counting calls and failing on demand."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False
        self._real = DefaultJwksFetcher()

    def __call__(self, partner: Partner) -> JwkSet:
        self.calls += 1
        if self.failing:
            raise JwksError("identity provider unreachable")
        return self._real(partner)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fetcher() -> CountingFetcher:
    return CountingFetcher()


@pytest.fixture
def provider(fetcher: CountingFetcher, clock: FakeClock) -> JwksProvider:
    return JwksProvider(fetcher, clock, INTERVAL)


def _flood(provider: JwksProvider, partner: Partner, count: int) -> None:
    for _ in range(count):
        with pytest.raises(AuthenticationError) as caught:
            provider.key(partner, secrets.token_hex(8))
        assert caught.value.code == "unknown_key"


def test_known_kid_is_served_from_cache(
    tmp_path: Path, provider: JwksProvider, fetcher: CountingFetcher
) -> None:
    jwk = _jwk()
    partner = _partner(tmp_path, [jwk])
    for _ in range(100):
        assert provider.key(partner, jwk["kid"])["x"] == jwk["x"]
    assert fetcher.calls == 1


def test_random_kid_flood_triggers_at_most_one_refresh_per_interval(
    tmp_path: Path, provider: JwksProvider, fetcher: CountingFetcher, clock: FakeClock
) -> None:
    jwk = _jwk()
    partner = _partner(tmp_path, [jwk])
    provider.key(partner, jwk["kid"])
    clock.advance(INTERVAL)
    _flood(provider, partner, 500)
    assert fetcher.calls == 2  # the initial load and one refresh
    clock.advance(INTERVAL - 1)
    _flood(provider, partner, 500)
    assert fetcher.calls == 2
    clock.advance(1)
    _flood(provider, partner, 500)
    assert fetcher.calls == 3


def test_a_rotated_key_is_picked_up_by_a_refresh(
    tmp_path: Path, provider: JwksProvider, clock: FakeClock
) -> None:
    old, new = _jwk(), _jwk()
    partner = _partner(tmp_path, [old])
    provider.key(partner, old["kid"])
    _partner(tmp_path, [old, new])
    clock.advance(INTERVAL)
    assert provider.key(partner, new["kid"])["x"] == new["x"]


def test_a_failed_refresh_keeps_the_last_good_keys(
    tmp_path: Path, provider: JwksProvider, fetcher: CountingFetcher, clock: FakeClock
) -> None:
    jwk = _jwk()
    partner = _partner(tmp_path, [jwk])
    provider.key(partner, jwk["kid"])
    fetcher.failing = True
    clock.advance(INTERVAL)
    _flood(provider, partner, 1)
    assert fetcher.calls == 2
    assert provider.key(partner, jwk["kid"])["kid"] == jwk["kid"]


def test_a_refresh_that_finds_garbage_keeps_the_last_good_keys(
    tmp_path: Path, provider: JwksProvider, clock: FakeClock
) -> None:
    jwk = _jwk()
    partner = _partner(tmp_path, [jwk])
    provider.key(partner, jwk["kid"])
    assert partner.jwks_file is not None
    partner.jwks_file.write_text("<html>maintenance</html>")
    clock.advance(INTERVAL)
    _flood(provider, partner, 1)
    assert provider.key(partner, jwk["kid"])["kid"] == jwk["kid"]


def test_keys_that_cannot_be_loaded_at_all_fail_closed_with_503(
    tmp_path: Path, provider: JwksProvider, fetcher: CountingFetcher, clock: FakeClock
) -> None:
    partner = _partner(tmp_path, [_jwk()])
    fetcher.failing = True
    for _ in range(50):
        with pytest.raises(ServiceUnavailable):
            provider.key(partner, "any")
    assert fetcher.calls == 1


def _uri_partner() -> Partner:
    return Partner(
        id="kela",
        name="Kela",
        kind="agency",
        issuer="https://idp.kela.fi",
        jwks_uri="https://idp.kela.fi/.well-known/jwks.json",
        algorithms=("ES256",),
    )


def _fetch_with(handler: Any) -> Mapping[str, Any]:
    client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)
    return DefaultJwksFetcher(client=client)(_uri_partner())


def test_jwks_uri_is_fetched() -> None:
    jwk = _jwk()
    keys = _fetch_with(lambda request: httpx.Response(200, json={"keys": [jwk]}))
    assert set(keys) == {jwk["kid"]}


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(302, headers={"Location": "https://attacker.example/jwks.json"}),
        httpx.Response(500),
        httpx.Response(200, content=b"{" + b" " * 300_000 + b"}"),
        httpx.Response(200, json={"keys": []}),
    ],
    ids=["redirect not followed", "server error", "oversized", "empty set"],
)
def test_unusable_jwks_uri_responses_are_errors(response: httpx.Response) -> None:
    with pytest.raises(JwksError):
        _fetch_with(lambda request: response)


def test_network_failure_is_a_jwks_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(JwksError):
        _fetch_with(refuse)


def test_unsafe_members_of_a_key_set_are_ignored() -> None:
    good = _jwk()
    duplicated = _jwk()
    document = {
        "keys": [
            good,
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {**_jwk(), "kid": "private", "d": "AAAA"},
            {**_jwk(), "kid": "encryption", "use": "enc"},
            {**_jwk(), "kid": "verify-less", "key_ops": ["sign"]},
            {**duplicated, "kid": "twice"},
            {**_jwk(), "kid": "twice"},
            {**_jwk(), "kid": ""},
            "not a key",
        ]
    }
    assert set(parse_jwks(document)) == {good["kid"]}


def test_replay_cache_accepts_each_jti_once_until_it_expires(clock: FakeClock) -> None:
    cache = InMemoryReplayCache(clock)
    assert cache.add("https://idp.kela.fi", "a", clock.now + 60)
    assert not cache.add("https://idp.kela.fi", "a", clock.now + 60)
    assert cache.add("https://idp.stat.fi", "a", clock.now + 60)
    clock.advance(60)
    assert len(cache) == 0
    assert cache.add("https://idp.kela.fi", "a", clock.now + 60)


def test_a_full_replay_cache_fails_closed(clock: FakeClock) -> None:
    cache = InMemoryReplayCache(clock, max_entries=3)
    for jti in "abc":
        assert cache.add("https://idp.kela.fi", jti, clock.now + 60)
    with pytest.raises(ServiceUnavailable):
        cache.add("https://idp.kela.fi", "d", clock.now + 60)
    clock.advance(61)
    assert cache.add("https://idp.kela.fi", "d", clock.now + 60)


def test_a_lookup_that_may_not_fetch_never_calls_the_fetcher(
    tmp_path: Path, provider: JwksProvider, fetcher: CountingFetcher, clock: FakeClock
) -> None:
    jwk = _jwk()
    partner = _partner(tmp_path, [jwk])
    with pytest.raises(KeyNotCached):
        provider.key(partner, jwk["kid"], fetch=False)
    assert fetcher.calls == 0
    assert provider.key(partner, jwk["kid"])["x"] == jwk["x"]
    assert provider.key(partner, jwk["kid"], fetch=False)["x"] == jwk["x"]
    # An unknown kid is not looked for either, even when a refresh is due.
    clock.advance(INTERVAL)
    with pytest.raises(KeyNotCached):
        provider.key(partner, "someone-elses-kid", fetch=False)
    assert fetcher.calls == 1
