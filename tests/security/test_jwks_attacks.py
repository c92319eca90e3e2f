"""Key-set attacks over HTTP: a kid flood cannot hammer the issuer's JWKS endpoint, and when
the endpoint is down the last good keys keep working while unknown kids fail closed."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from broker.auth import DefaultJwksFetcher, JwksProvider
from broker.config.keys import load_private_key, public_jwk
from broker.main import create_app
from broker.runtime import build_runtime
from tests.broker.tokens import FakeClock
from tests.security.attack import (
    Forge,
    assert_problem,
    bearer,
    broker_settings,
    es256_signer,
    private_store,
)

JWKS_URI = "https://idp.kela.fi/.well-known/jwks.json"
REFRESH_INTERVAL = 60.0
FLOOD = 150


@dataclass
class JwksEndpoint:
    """Kela's identity provider as an httpx MockTransport: serves a key set, counts fetches."""

    keys: list[dict[str, Any]]
    down: bool = False
    fetches: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.fetches.append(str(request.url))
        if self.down:
            raise httpx.ConnectError("identity provider unreachable", request=request)
        return httpx.Response(200, json={"keys": self.keys})


@dataclass
class Broker:
    client: TestClient
    forge: Forge
    endpoint: JwksEndpoint
    clock: FakeClock


def _config_with_jwks_uri(broker_config: dict[str, Path]) -> Path:
    """The demo configuration, with kela's keys published at a JWKS URI instead of a file."""
    source = broker_config["config_dir"]
    # A sibling of the original, so the other partners' relative jwks_file paths still resolve.
    target = source.parent / f"config-jwks-uri-{uuid.uuid4().hex[:8]}"
    target.mkdir()
    for item in source.iterdir():
        if item.is_dir():
            (target / item.name).symlink_to(item, target_is_directory=True)
        elif item.name != "partners.yaml":
            (target / item.name).write_bytes(item.read_bytes())
    partners = yaml.safe_load((source / "partners.yaml").read_text())
    for partner in partners["partners"]:
        if partner["id"] == "kela":
            del partner["jwks_file"]
            partner["jwks_uri"] = JWKS_URI
    (target / "partners.yaml").write_text(yaml.safe_dump(partners))
    return target


@pytest.fixture
def broker(tmp_path: Path, loaded_store: Path, broker_config: dict[str, Path]) -> Iterator[Broker]:
    kela_key = public_jwk(load_private_key(broker_config["kela"]))
    endpoint = JwksEndpoint(keys=[kela_key])
    clock = FakeClock(now=1_795_000_000.0)
    fetcher = DefaultJwksFetcher(client=httpx.Client(transport=httpx.MockTransport(endpoint)))
    settings = broker_settings(
        broker_config,
        private_store(loaded_store, tmp_path),
        config_dir=_config_with_jwks_uri(broker_config),
        jwks_refresh_min_interval_seconds=REFRESH_INTERVAL,
    )
    jwks = JwksProvider(fetcher, clock, REFRESH_INTERVAL)
    runtime = build_runtime(settings, clock=clock, jwks=jwks)
    with TestClient(create_app(settings, runtime=runtime)) as client:
        forge = Forge(runtime.config, broker_config, clock=clock)
        yield Broker(client, forge, endpoint, clock)


def _catalog(broker: Broker, token: str) -> httpx.Response:
    return broker.client.get("/v1/catalog", headers=bearer(token))


def _random_kid_token(broker: Broker) -> str:
    attacker = ec.generate_private_key(ec.SECP256R1())
    return broker.forge.token(
        "kela", header={"kid": secrets.token_urlsafe(12)}, sign=es256_signer(attacker)
    )


def test_a_flood_of_random_kids_fetches_the_key_set_at_most_once_per_interval(
    broker: Broker,
) -> None:
    assert _catalog(broker, broker.forge.token("kela")).status_code == 200
    assert broker.endpoint.fetches == [JWKS_URI]
    started = broker.clock.now
    for _ in range(4):
        for _ in range(FLOOD):
            assert_problem(_catalog(broker, _random_kid_token(broker)), 401, "unknown_key")
        broker.clock.advance(REFRESH_INTERVAL / 2)
    # 600 unknown kids over two intervals: the first load plus one refresh per interval.
    elapsed_intervals = int((broker.clock.now - started) // REFRESH_INTERVAL)
    assert elapsed_intervals == 2
    assert 1 < len(broker.endpoint.fetches) <= 1 + elapsed_intervals
    assert _catalog(broker, broker.forge.token("kela")).status_code == 200


def test_known_keys_keep_working_while_the_endpoint_is_down_and_new_kids_fail_closed(
    broker: Broker, broker_config: dict[str, Path]
) -> None:
    assert _catalog(broker, broker.forge.token("kela")).status_code == 200
    broker.endpoint.down = True
    broker.clock.advance(REFRESH_INTERVAL * 10)
    # A rotated key, published by the identity provider only after it went down.
    rotated = ec.generate_private_key(ec.SECP256R1())
    broker.endpoint.keys.append(public_jwk(rotated))
    new_kid = broker.forge.token(
        "kela", header={"kid": public_jwk(rotated)["kid"]}, sign=es256_signer(rotated)
    )
    assert_problem(_catalog(broker, new_kid), 401, "unknown_key")
    assert len(broker.endpoint.fetches) == 2  # the refresh was tried, and failed
    for _ in range(5):
        assert _catalog(broker, broker.forge.token("kela")).status_code == 200
    broker.endpoint.down = False
    broker.clock.advance(REFRESH_INTERVAL)
    fresh = broker.forge.token(
        "kela", header={"kid": public_jwk(rotated)["kid"]}, sign=es256_signer(rotated)
    )
    assert _catalog(broker, fresh).status_code == 200


def test_an_issuer_whose_keys_never_loaded_fails_closed_with_503(broker: Broker) -> None:
    broker.endpoint.down = True
    response = _catalog(broker, broker.forge.token("kela"))
    assert_problem(response, 503, "service_unavailable")
    assert json.loads(response.text)["detail"]
