"""Demo signing keys for partners and minting of RFC 9068 access tokens with them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from broker.config.models import BrokerConfig, Partner

DEMO_ALGORITHM = "ES256"


def jwk_thumbprint(public_jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of an EC public JWK, used as its stable `kid`."""
    members = {name: public_jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    digest = hashlib.sha256(canonical).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def public_jwk(private_key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """The public JWK (with kid, alg and use) of an EC private key."""
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    jwk["kid"] = jwk_thumbprint(jwk)
    jwk["alg"] = DEMO_ALGORITHM
    jwk["use"] = "sig"
    return jwk


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Load a partner's EC private key from PEM."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key")
    return key


def _write_private_key(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def demo_keys_dir(config_dir: Path) -> Path | None:
    """Where the demo keeps partner keys: beside the JWKS files the configuration names."""
    from broker.config.loader import read_partners

    for partner in read_partners(config_dir):
        if partner.jwks_file is not None:
            return (config_dir / partner.jwks_file).parent
    return None


def ensure_demo_keys(partners: BrokerConfig | Iterable[Partner], keys_dir: Path) -> dict[str, Path]:
    """Create (if missing) an ES256 key per partner: `<id>.pem` (0600) and `<id>.jwks.json`."""
    items = partners.partners.values() if isinstance(partners, BrokerConfig) else partners
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_paths: dict[str, Path] = {}
    for partner in items:
        pem_path = keys_dir / f"{partner.id}.pem"
        if not pem_path.exists():
            _write_private_key(pem_path)
        # The public set is always rewritten from the private key so the two cannot drift.
        jwks = {"keys": [public_jwk(load_private_key(pem_path))]}
        (keys_dir / f"{partner.id}.jwks.json").write_text(json.dumps(jwks, indent=2) + "\n")
        private_paths[partner.id] = pem_path
    return private_paths


def mint_token(
    partner: Partner,
    private_key_path: Path,
    audience: str,
    subject: str,
    lifetime: int = 120,
    extra_claims: Mapping[str, Any] | None = None,
    *,
    issued_at: int | None = None,
) -> str:
    """Sign a fresh RFC 9068 access token (`typ: at+jwt`) as the partner, for one request."""
    private_key = load_private_key(private_key_path)
    now = int(time.time()) if issued_at is None else issued_at
    claims: dict[str, Any] = {
        "iss": partner.issuer,
        "aud": audience,
        "sub": subject,
        "client_id": partner.id,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(18),
    }
    claims.update(extra_claims or {})
    headers = {"typ": "at+jwt", "kid": public_jwk(private_key)["kid"]}
    return jwt.encode(claims, private_key, algorithm=DEMO_ALGORITHM, headers=headers)
