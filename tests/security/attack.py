"""Shared pieces of the security suite: a broker over a private store, and a token forge."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from httpx import Response
from jwt.algorithms import ECAlgorithm
from pydantic import SecretStr

from broker.config.keys import load_private_key, public_jwk
from broker.config.models import BrokerConfig
from broker.config.settings import BrokerSettings

AUDIENCE = "https://tillit.lahti.fi/broker"
PROBLEM = "application/problem+json"
ECE_REQUEST: dict[str, Any] = {
    "dataset": "persons",
    "purpose": "ece_placement",
    "legal_basis": "ece_act_540_2018",
}
Signer = Callable[[bytes], bytes]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def es256_signer(key: ec.EllipticCurvePrivateKey) -> Signer:
    """Signs a JWS signing input as PyJWT's ES256 does (raw r || s)."""
    algorithm = ECAlgorithm(ECAlgorithm.SHA256)
    return lambda data: algorithm.sign(data, key)


def compact(header_json: str, payload_json: str, sign: Signer | None) -> str:
    """A compact JWS from literal JSON texts, so duplicate members survive."""
    signing_input = b64url(header_json.encode()) + "." + b64url(payload_json.encode())
    signature = sign(signing_input.encode()) if sign is not None else b""
    return signing_input + "." + b64url(signature)


@dataclass(frozen=True)
class Forge:
    """Builds tokens as a configured partner, or as an attacker imitating one."""

    config: BrokerConfig
    keys: Mapping[str, Path]
    clock: Callable[[], float] = time.time

    def key(self, partner: str) -> ec.EllipticCurvePrivateKey:
        return load_private_key(self.keys[partner])

    def kid(self, partner: str) -> str:
        return str(public_jwk(self.key(partner))["kid"])

    def claims(self, partner: str, **changes: Any) -> dict[str, Any]:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.config.partners[partner].issuer,
            "aud": AUDIENCE,
            "sub": f"{partner}-caseworker",
            "client_id": partner,
            "iat": now,
            "exp": now + 120,
            "jti": secrets.token_urlsafe(16),
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def header(self, partner: str, **changes: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"alg": "ES256", "typ": "at+jwt", "kid": self.kid(partner)}
        header.update(changes)
        return {name: value for name, value in header.items() if value is not None}

    def token(
        self,
        partner: str = "lahti-education",
        *,
        header: Mapping[str, Any] | None = None,
        claims: Mapping[str, Any] | None = None,
        sign: Signer | None = None,
        drop: tuple[str, ...] = (),
    ) -> str:
        """A token as `partner`, signed with its real key unless `sign` says otherwise."""
        head = self.header(partner, **(header or {}))
        body = {k: v for k, v in self.claims(partner, **(claims or {})).items() if k not in drop}
        return compact(json.dumps(head), json.dumps(body), sign or es256_signer(self.key(partner)))


def bearer(token: str) -> dict[str, Any]:
    """The Authorization header; a token that is not ASCII is sent as its Latin-1 bytes."""
    value = f"Bearer {token}"
    return {"Authorization": value if value.isascii() else value.encode("latin-1")}


def assert_problem(response: Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The answer is an RFC 7807 document with this status (and code), and carries no rows."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and isinstance(body["code"], str)
    if code is not None:
        assert body["code"] == code, body
    assert "rows" not in body and "share_id" not in body
    return body


def table_count(client: TestClient, table: str) -> int:
    """Rows in one of the broker's own tables (audit_log, share_receipts, disclosures)."""
    engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def private_store(loaded_store: Path, directory: Path) -> str:
    """A private copy of the session's loaded store."""
    directory.mkdir(parents=True, exist_ok=True)
    copy = directory / "store.db"
    shutil.copy(loaded_store, copy)
    return f"sqlite:///{copy}"


def broker_settings(
    broker_config: Mapping[str, Path], store_url: str, **changes: Any
) -> BrokerSettings:
    """The settings the API tests use, with any field changed."""
    values: dict[str, Any] = {
        "config_dir": broker_config["config_dir"],
        "database_url": store_url,
        "pseudonym_key": SecretStr("k" * 64),
        "checkpoint_key_file": broker_config["checkpoint"],
        "audience": AUDIENCE,
        "lineage_shipping": False,
        **changes,
    }
    return BrokerSettings(**values)


def open_client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client
