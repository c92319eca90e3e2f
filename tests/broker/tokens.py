"""Helpers for authentication tests: a controllable clock and a token forge."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from broker.config.keys import load_private_key, public_jwk
from tests.broker.conftest import DemoEnvironment

AUDIENCE = "https://tillit.lahti.fi/broker"
T0 = 1_795_000_000.0  # a fixed moment in 2026; tests never read the real clock


@dataclass
class FakeClock:
    """A clock that only moves when a test moves it."""

    now: float = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(
    header: Mapping[str, Any], claims: Mapping[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    """Assemble a compact JWS by hand, for tokens PyJWT would refuse to produce."""
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    return signing_input + "." + b64url(sign(signing_input.encode()))


@dataclass
class TokenFactory:
    """Signs access tokens as demo partners, with any claim or header changed."""

    demo: DemoEnvironment
    clock: FakeClock
    issued: list[str] = field(default_factory=list)

    def kid(self, partner_id: str) -> str:
        return str(public_jwk(load_private_key(self.demo.private_key(partner_id)))["kid"])

    def claims(self, partner_id: str, **changes: Any) -> dict[str, Any]:
        now = int(self.clock.now)
        claims: dict[str, Any] = {
            "iss": self.demo.config.partners[partner_id].issuer,
            "aud": AUDIENCE,
            "sub": f"{partner_id}-service",
            "client_id": partner_id,
            "iat": now,
            "exp": now + 120,
            "jti": secrets.token_urlsafe(12),
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not DROP}

    def header(self, partner_id: str, **changes: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"typ": "at+jwt", "kid": self.kid(partner_id)}
        header.update(changes)
        return {name: value for name, value in header.items() if value is not DROP}

    def token(
        self,
        partner_id: str = "kela",
        *,
        signer: str | None = None,
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
        key: Any = None,
        algorithm: str = "ES256",
    ) -> str:
        """A token claiming to be `partner_id`, signed by `signer`'s key (or `key`)."""
        signing_key = key or load_private_key(self.demo.private_key(signer or partner_id))
        return jwt.encode(
            self.claims(partner_id, **(claims or {})),
            signing_key,
            algorithm=algorithm,
            headers=self.header(partner_id, **(header or {})),
        )


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()
