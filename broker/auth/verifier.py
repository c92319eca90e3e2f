"""RFC 8725 / RFC 9068 access-token verification with PyJWT; every failure has a stable code."""

from __future__ import annotations

import binascii
import functools
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from jwt.utils import base64url_decode, base64url_encode
from sqlalchemy.engine import Connection

from broker.auth.clock import Clock
from broker.auth.jwks import JwksProvider
from broker.auth.principal import Principal
from broker.auth.replay import ReplayCache
from broker.config.models import BrokerConfig, Partner
from broker.config.settings import BrokerSettings
from broker.errors import AuthenticationError

logger = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 16 * 1024
MAX_JTI_CHARS = 256
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# Headers that point at, or carry, keys chosen by the token's author; never honoured.
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub", "jti", "client_id"]
# The key type (and curve) each algorithm may be verified with; binds a JWK to one algorithm.
KEY_TYPES: Mapping[str, tuple[str, frozenset[str] | None]] = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), ("RSA", None)),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}
_CLAIM_ERRORS: Mapping[type[jwt.PyJWTError], str] = {
    jwt.MissingRequiredClaimError: "missing_claim",
    jwt.InvalidAudienceError: "wrong_audience",
    jwt.InvalidIssuerError: "unknown_issuer",
    jwt.InvalidAlgorithmError: "algorithm_not_allowed",
    jwt.InvalidKeyError: "unknown_key",
}


def _reject(code: str, why: str) -> AuthenticationError:
    # The caller only ever learns the code; the specifics go to the service log.
    logger.info("access token rejected (%s): %s", code, why)
    return AuthenticationError(code)


def _bind_key(jwk: Mapping[str, Any], alg: str) -> jwt.PyJWK:
    """Build the verification key for exactly this algorithm, or refuse the pairing."""
    kty, curves = KEY_TYPES[alg]
    if jwk.get("kty") != kty or (curves is not None and jwk.get("crv") not in curves):
        raise _reject("algorithm_not_allowed", f"key type does not fit {alg}")
    if "alg" in jwk and jwk["alg"] != alg:
        raise _reject("algorithm_not_allowed", f"key is bound to {jwk['alg']}, token uses {alg}")
    try:
        return _verification_key(json.dumps(jwk, sort_keys=True), alg)
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        raise _reject("unknown_key", f"unusable key: {exc}") from None


@functools.lru_cache(maxsize=256)
def _verification_key(jwk_json: str, alg: str) -> jwt.PyJWK:
    """The PyJWK of a key's exact JSON for one algorithm, built once (a key rotated or
    changed has other JSON, and so another entry)."""
    return jwt.PyJWK(json.loads(jwk_json), algorithm=alg)


def _no_duplicate_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("duplicate member name")
    return dict(pairs)


# Refusing a header or payload that names a member twice (RFC 7515 section 5.2 allows it):
# PyJWT keeps the last of duplicate members, another JSON reader on the way (a gateway, a log
# pipeline) may keep the first, and two readings of one token must never disagree.


def _check_unique_header(token: str) -> None:
    """Refuse a header that names a member twice (the payload is checked as PyJWT reads it,
    ``_TokenReader._decode_payload``). PyJWT still does the real parsing."""
    try:
        text = base64url_decode(token.split(".", 1)[0].encode("ascii"))
        json.loads(text, object_pairs_hook=_no_duplicate_members)
    except (ValueError, UnicodeError, binascii.Error, RecursionError):
        raise _reject("invalid_token", "unreadable or repeated JSON members") from None


_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")


class _SegmentReader(jwt.PyJWS):
    """PyJWS with its own segment rules, the alphabet checked by one regular expression.

    PyJWT 2.15 checks each character of a segment in a Python generator: some 15 µs a read of
    a token, paid twice a request (the unverified read that chooses the key, then the
    verified one).
    The rules are PyJWT's, in its order; a property test holds this reading to PyJWT's own.
    """

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        stripped = segment.rstrip(b"=")
        padding = len(segment) - len(stripped)
        if padding > 2 or (padding and len(segment) % 4 != 0):
            raise jwt.DecodeError(f"Invalid {name} padding")
        if len(stripped) % 4 == 1 or _BASE64URL.fullmatch(stripped) is None:
            raise jwt.DecodeError(f"Invalid {name} padding")
        try:
            decoded = base64url_decode(stripped)
        except (TypeError, binascii.Error) as err:
            raise jwt.DecodeError(f"Invalid {name} padding") from err
        if base64url_encode(decoded) != stripped:
            raise jwt.DecodeError(f"Invalid {name} padding")
        return decoded


class _TokenReader(jwt.PyJWT):
    """PyJWT reading segments with ``_SegmentReader`` and refusing a payload that names a
    member twice, in the one parse PyJWT makes of it (``_decode_payload`` is PyJWT's hook
    for reading payloads differently)."""

    def __init__(self) -> None:
        super().__init__()
        self._jws = _SegmentReader(options=self._get_sig_options())

    def _decode_payload(self, decoded: dict[str, Any]) -> dict[str, Any]:
        try:
            payload = json.loads(decoded["payload"], object_pairs_hook=_no_duplicate_members)
        except (ValueError, RecursionError) as error:
            raise jwt.DecodeError(f"Invalid payload string: {error}") from error
        if not isinstance(payload, dict):
            raise jwt.DecodeError("Invalid payload string: must be a json object")
        return payload


_READER = _TokenReader()


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _numeric(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _reject("invalid_token", f"{name} is not a number")
    return float(value)


@dataclass(slots=True)
class TokenUse:
    """A verified token's one use: its id is spent exactly once before anything is released.

    A request that writes the audit log spends it inside that transaction (`spend_in`), one
    write fewer on the store's single writer; every other request spends it on its own
    (`spend`). Whoever comes second finds it spent and does nothing.
    """

    issuer: str
    jti: str
    partner_id: str
    expires_at: float
    replay_cache: ReplayCache
    spent: bool = False

    def spend(self) -> None:
        """Spend the id in its own transaction; 401 token_replayed if it was spent before."""
        if not self.spent:
            self._settle(self.replay_cache.add(self.issuer, self.jti, self.expires_at))

    def spend_in(self, conn: Connection) -> None:
        """Spend the id in the caller's write transaction: it stays spent if that commits."""
        if not self.spent:
            self._settle(self.replay_cache.add_in(conn, self.issuer, self.jti, self.expires_at))

    def _settle(self, recorded: bool) -> None:
        if not recorded:
            raise _reject("token_replayed", f"jti {self.jti!r} of {self.partner_id} seen before")
        self.spent = True


class TokenVerifier:
    """Turns a bearer token into a Principal, or raises AuthenticationError with a stable code."""

    def __init__(
        self,
        config: BrokerConfig,
        settings: BrokerSettings,
        jwks: JwksProvider,
        replay_cache: ReplayCache,
        clock: Clock,
    ) -> None:
        self._config = config
        self._audience = settings.audience
        self._leeway = settings.token_leeway_seconds
        self._max_lifetime = settings.max_token_lifetime_seconds
        self._jwks = jwks
        self._replay = replay_cache
        self._clock = clock

    def verify(self, token: str) -> Principal:
        """Verify signature, header and claims, then spend the token's jti (once per issuer)."""
        principal, use = self.check(token)
        use.spend()
        return principal

    def check(self, token: str, *, fetch_keys: bool = True) -> tuple[Principal, TokenUse]:
        """Verify signature, header and claims; the caller must spend the returned use before
        it releases anything (`verify` spends it at once).

        With ``fetch_keys=False`` the check never blocks on the network: a key not yet cached
        raises KeyNotCached (before any verdict), for the caller to check again off the event
        loop."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise _reject("invalid_token", "empty or oversized token")
        _check_unique_header(token)
        # Read once without verifying: the header and the issuer only choose the key to try.
        try:
            unverified = _READER.decode_complete(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise _reject("invalid_token", f"unreadable token: {exc}") from None
        alg, kid = self._check_header(unverified["header"])
        partner = self._partner_for(unverified["payload"])
        if alg not in partner.algorithms:
            raise _reject("algorithm_not_allowed", f"{alg} not allowed for {partner.id}")
        key = _bind_key(self._jwks.key(partner, kid, fetch=fetch_keys), alg)
        claims = self._decode(token, key, alg, partner)
        return self._accept(claims, partner)

    def _check_header(self, header: Mapping[str, Any]) -> tuple[str, str]:
        present = sorted(FORBIDDEN_HEADERS & header.keys())
        if present:
            raise _reject("header_not_allowed", f"header carries {', '.join(present)}")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise _reject("wrong_token_type", f"typ {typ!r}")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in KEY_TYPES:
            raise _reject("algorithm_not_allowed", f"alg {alg!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _reject("unknown_key", "no kid")
        return alg, kid

    def _partner_for(self, unverified: Mapping[str, Any]) -> Partner:
        # The unverified issuer only selects whose keys to try; the signature and the exact
        # `iss` comparison in _decode decide whether the token is trusted.
        issuer = unverified.get("iss")
        partner = self._config.partner_by_issuer(issuer) if isinstance(issuer, str) else None
        if partner is None:
            raise _reject("unknown_issuer", f"iss {issuer!r}")
        return partner

    def _decode(self, token: str, key: jwt.PyJWK, alg: str, partner: Partner) -> dict[str, Any]:
        try:
            return _READER.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self._audience,
                issuer=partner.issuer,
                # PyJWT reads the wall clock itself, so time claims are checked in _accept
                # against the injected clock instead.
                options={
                    "require": REQUIRED_CLAIMS,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.PyJWTError as exc:
            code = next(
                (c for kind, c in _CLAIM_ERRORS.items() if isinstance(exc, kind)), "invalid_token"
            )
            raise _reject(code, f"{type(exc).__name__}: {exc}") from None

    def _check_times(self, claims: Mapping[str, Any]) -> float:
        now = self._clock()
        exp, iat = _numeric(claims, "exp"), _numeric(claims, "iat")
        if exp <= now - self._leeway:
            raise _reject("token_expired", "exp passed")
        if iat > now + self._leeway:
            raise _reject("token_not_yet_valid", "iat in the future")
        if "nbf" in claims and _numeric(claims, "nbf") > now + self._leeway:
            raise _reject("token_not_yet_valid", "nbf in the future")
        if exp <= iat:
            raise _reject("invalid_token", "exp not after iat")
        if exp - iat > self._max_lifetime:
            raise _reject("token_lifetime_too_long", f"lifetime {exp - iat:.0f}s")
        return exp

    def _accept(self, claims: Mapping[str, Any], partner: Partner) -> tuple[Principal, TokenUse]:
        exp = self._check_times(claims)
        subject, jti, client_id = claims["sub"], claims["jti"], claims["client_id"]
        for name, value in (("sub", subject), ("jti", jti), ("client_id", client_id)):
            if not isinstance(value, str) or not value:
                raise _reject("invalid_token", f"{name} is not a non-empty string")
            if not _is_text(value):
                # JSON's \u escapes can spell a lone surrogate, which is no Unicode text: it
                # could be neither stored, nor logged, nor hashed into the audit record.
                raise _reject("invalid_token", f"{name} is not Unicode text")
        if len(jti) > MAX_JTI_CHARS:
            raise _reject("invalid_token", "jti too long")
        # RFC 9068 section 2.2: client_id names the client the token was issued to; a partner's
        # issuer vouches only for that partner, never for another partner's client id.
        if client_id != partner.id:
            raise _reject("wrong_client", f"client_id {client_id!r} under {partner.id}'s issuer")
        # Spent only after the signature verified: forged tokens cannot burn real jtis.
        use = TokenUse(partner.issuer, jti, partner.id, exp + self._leeway, self._replay)
        principal = Principal(
            partner_id=partner.id,
            kind=partner.kind,
            roles=partner.roles,
            subject=subject,
            issuer=partner.issuer,
            jti=jti,
            client_id=client_id,
            expires_at=datetime.fromtimestamp(exp, tz=UTC),
        )
        return principal, use
