"""Parsing of JSON Web Key Sets into verification keys by `kid`, rejecting unsafe members."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_JWKS_BYTES = 256 * 1024
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_ASYMMETRIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})


class JwksError(ValueError):
    """A JWKS document is malformed or holds no usable verification key."""


def _usable(jwk: Mapping[str, Any]) -> bool:
    # Symmetric ("oct") and private keys never belong in a partner's public key set; skipping
    # them means a confused JWKS cannot turn the broker into an HMAC verifier.
    if jwk.get("kty") not in _ASYMMETRIC_KEY_TYPES:
        return False
    if _PRIVATE_MEMBERS & jwk.keys():
        return False
    if jwk.get("use", "sig") != "sig":
        return False
    key_ops = jwk.get("key_ops")
    return key_ops is None or (isinstance(key_ops, list) and "verify" in key_ops)


def parse_jwks(document: Any) -> dict[str, Mapping[str, Any]]:
    """Return the usable public signing keys of a JWKS by `kid`; raise JwksError if none."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JwksError("not a JWKS: expected an object with a 'keys' list")
    keys: dict[str, Mapping[str, Any]] = {}
    ambiguous: set[str] = set()
    for jwk in document["keys"]:
        if not isinstance(jwk, Mapping) or not _usable(jwk):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        # Two keys under one kid would make key selection depend on order; use neither.
        if kid in keys:
            ambiguous.add(kid)
        keys[kid] = dict(jwk)
    for kid in ambiguous:
        del keys[kid]
    if not keys:
        raise JwksError("JWKS holds no usable public signing key with a kid")
    return keys


def parse_jwks_bytes(raw: bytes) -> dict[str, Mapping[str, Any]]:
    """Parse a JWKS from its JSON bytes (size-capped) into keys by `kid`."""
    if len(raw) > MAX_JWKS_BYTES:
        raise JwksError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JwksError(f"JWKS is not valid JSON: {exc}") from None
    return parse_jwks(document)
