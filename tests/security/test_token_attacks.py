"""RFC 8725 attacks on the broker's access tokens, sent over HTTP to the assembled app.

Every forged, confused or stale token must be refused with 401, an RFC 7807 document and a
stable code, before anything is read, audited or released.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi.testclient import TestClient

from broker.config.keys import public_jwk
from broker.main import create_app
from tests.security.attack import (
    ECE_REQUEST,
    Forge,
    assert_problem,
    b64url,
    bearer,
    broker_settings,
    compact,
    es256_signer,
    private_store,
    table_count,
)

PARTNER = "lahti-education"
ATTACKER_P256 = ec.generate_private_key(ec.SECP256R1())
ATTACKER_P384 = ec.generate_private_key(ec.SECP384R1())
ATTACKER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_ED25519 = ed25519.Ed25519PrivateKey.generate()
ATTACKER_JWK = public_jwk(ATTACKER_P256)

Attack = Callable[[Forge], str]


@pytest.fixture(scope="module")
def forge(client: TestClient, broker_config: dict[str, Path]) -> Forge:
    return Forge(client.app.state.runtime.config, broker_config)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, loaded_store: Path, broker_config: dict[str, Path]
) -> Iterator[TestClient]:
    """One broker for the whole table: each attack uses a fresh token, so none disturbs another."""
    store = private_store(loaded_store, tmp_path_factory.mktemp("token-attacks"))
    with TestClient(create_app(broker_settings(broker_config, store))) as test_client:
        yield test_client


def _public_pem(forge: Forge) -> bytes:
    return (
        forge.key(PARTNER)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _hmac_signer(secret: bytes, digest: str) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, digest).digest()


def _pyjwt(key: Any, algorithm: str, **header: Any) -> Attack:
    """Signed by PyJWT with an attacker's key of the algorithm's own type."""

    def build(forge: Forge) -> str:
        headers = {"typ": "at+jwt", "kid": forge.kid(PARTNER), **header}
        return jwt.encode(forge.claims(PARTNER), key, algorithm=algorithm, headers=headers)

    return build


def _alg_none(alg: str) -> Attack:
    return lambda forge: forge.token(header={"alg": alg}, sign=lambda _: b"")


def _key_confusion(digest: str, as_jwk: bool) -> Attack:
    """HS* with the partner's *public* key (PEM or JWK text) as the HMAC secret."""

    def build(forge: Forge) -> str:
        secret = (
            json.dumps(public_jwk(forge.key(PARTNER))).encode() if as_jwk else _public_pem(forge)
        )
        return forge.token(header={"alg": "HS" + digest[3:]}, sign=_hmac_signer(secret, digest))

    return build


def _kid(kid: Any) -> Attack:
    return lambda forge: forge.token(header={"kid": kid})


def _attacker_key_header(name: str) -> Attack:
    """The header points at (or carries) the attacker's key, and the attacker's key signs."""
    values: dict[str, Any] = {
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "jwk": ATTACKER_JWK,
        "x5c": [b64url(b"not really a certificate")],
    }
    return lambda forge: forge.token(
        header={name: values[name], "kid": ATTACKER_JWK["kid"]}, sign=es256_signer(ATTACKER_P256)
    )


def _claims(**changes: Any) -> Attack:
    return lambda forge: forge.token(claims=changes)


def _times(exp: int, iat: int = 0, nbf: int | None = None) -> Attack:
    def build(forge: Forge) -> str:
        now = int(forge.clock())
        changes = {"exp": now + exp, "iat": now + iat}
        if nbf is not None:
            changes["nbf"] = now + nbf
        return forge.token(claims=changes)

    return build


def _missing(claim: str) -> Attack:
    return lambda forge: forge.token(drop=(claim,))


def _tampered(change: Callable[[str], str]) -> Attack:
    return lambda forge: change(forge.token())


def _flip_last_signature_byte(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(jwt.utils.base64url_decode(signature.encode()))
    raw[-1] ^= 0x01
    return f"{head}.{payload}.{b64url(bytes(raw))}"


def _swap_payload(token: str) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload.encode()))
    claims["sub"] = "someone-else"
    return f"{head}.{b64url(json.dumps(claims).encode())}.{signature}"


def _duplicate_header(first: str, last: str) -> Attack:
    """A header naming one member twice, the value PyJWT keeps (the last) being the honest one."""

    def build(forge: Forge) -> str:
        header = f'{{"alg":"ES256","typ":"at+jwt","kid":"{forge.kid(PARTNER)}",{first},{last}}}'
        return compact(header, json.dumps(forge.claims(PARTNER)), es256_signer(forge.key(PARTNER)))

    return build


def _duplicate_claim(name: str, first: Any) -> Attack:
    def build(forge: Forge) -> str:
        claims = forge.claims(PARTNER)
        text = json.dumps(claims)[:-1] + f', "{name}": {json.dumps(claims[name])}}}'
        text = text.replace(
            f'"{name}": {json.dumps(claims[name])}', f'"{name}": {json.dumps(first)}', 1
        )
        return compact(json.dumps(forge.header(PARTNER)), text, es256_signer(forge.key(PARTNER)))

    return build


def _literal(token: str) -> Attack:
    return lambda _forge: token


ATTACKS: dict[str, tuple[Attack, str]] = {
    # alg "none" in any spelling
    **{
        f"alg-{alg}": (_alg_none(alg), "algorithm_not_allowed")
        for alg in ("none", "None", "NONE", "nOnE")
    },
    "alg-missing": (lambda forge: forge.token(header={"alg": None}), "algorithm_not_allowed"),
    "alg-empty": (lambda forge: forge.token(header={"alg": ""}), "algorithm_not_allowed"),
    # key confusion: HMAC keyed with the public key
    **{
        f"{digest}-public-{form}": (_key_confusion(digest, form == "jwk"), "algorithm_not_allowed")
        for digest in ("sha256", "sha384", "sha512")
        for form in ("pem", "jwk")
    },
    # algorithms outside the issuer's allow-list (lahti-education allows ES256 only)
    "ES384": (_pyjwt(ATTACKER_P384, "ES384"), "algorithm_not_allowed"),
    "RS256": (_pyjwt(ATTACKER_RSA, "RS256"), "algorithm_not_allowed"),
    "PS256-allowed-for-kela-only": (_pyjwt(ATTACKER_RSA, "PS256"), "algorithm_not_allowed"),
    "EdDSA": (_pyjwt(ATTACKER_ED25519, "EdDSA"), "algorithm_not_allowed"),
    "ES256K": (lambda forge: forge.token(header={"alg": "ES256K"}), "algorithm_not_allowed"),
    # unknown and injected kids
    "kid-unknown": (_kid("a-key-nobody-has"), "unknown_key"),
    "kid-path-traversal": (_kid("../../../../etc/passwd"), "unknown_key"),
    "kid-file-url": (_kid("file:///dev/random"), "unknown_key"),
    "kid-sql": (_kid("' OR '1'='1' --"), "unknown_key"),
    "kid-sql-drop": (_kid("x'; DROP TABLE token_replay; --"), "unknown_key"),
    "kid-nul": (_kid("kid\u0000admin"), "unknown_key"),
    "kid-very-long": (_kid("k" * 8000), "unknown_key"),
    "kid-empty": (_kid(""), "unknown_key"),
    "kid-missing": (lambda forge: forge.token(header={"kid": None}), "unknown_key"),
    # PyJWT refuses a kid that is not a string while reading the header
    "kid-number": (_kid(7), "invalid_token"),
    "kid-object": (_kid({"$ne": None}), "invalid_token"),
    "kid-of-another-partner": (
        lambda forge: forge.token(
            header={"kid": forge.kid("kela")}, sign=es256_signer(forge.key("kela"))
        ),
        "unknown_key",
    ),
    # headers that point at, or carry, the attacker's key
    **{
        f"header-{name}": (_attacker_key_header(name), "header_not_allowed")
        for name in ("jku", "x5u", "jwk", "x5c")
    },
    # PyJWT itself refuses an unsupported critical extension before Tillit looks at `crit`
    "crit-unknown-extension": (
        lambda forge: forge.token(header={"crit": ["tillit-admin"], "tillit-admin": True}),
        "invalid_token",
    ),
    # PyJWT refuses an unencoded (b64: false) payload in compact form before the header check
    "crit-b64": (
        lambda forge: forge.token(header={"crit": ["b64"], "b64": False}),
        "invalid_token",
    ),
    # token types
    "typ-missing": (lambda forge: forge.token(header={"typ": None}), "wrong_token_type"),
    "typ-JWT": (lambda forge: forge.token(header={"typ": "JWT"}), "wrong_token_type"),
    "typ-id-token": (lambda forge: forge.token(header={"typ": "id_token+jwt"}), "wrong_token_type"),
    "typ-with-parameter": (
        lambda forge: forge.token(header={"typ": "at+jwt; charset=x"}),
        "wrong_token_type",
    ),
    "typ-list": (lambda forge: forge.token(header={"typ": ["at+jwt"]}), "wrong_token_type"),
    # time
    "expired": (_times(exp=-120, iat=-180), "token_expired"),
    "nbf-in-future": (_times(exp=200, nbf=120), "token_not_yet_valid"),
    "iat-in-future": (_times(exp=400, iat=120), "token_not_yet_valid"),
    "lifetime-over-limit": (_times(exp=3600), "token_lifetime_too_long"),
    "lifetime-years": (_times(exp=10 * 365 * 86400), "token_lifetime_too_long"),
    "exp-before-iat": (_times(exp=-1, iat=0), "invalid_token"),
    "exp-as-string": (_claims(exp="9999999999"), "invalid_token"),
    # issuer, audience and client
    "iss-unknown": (_claims(iss="https://attacker.example"), "unknown_issuer"),
    "iss-trailing-slash": (
        lambda forge: forge.token(claims={"iss": forge.config.partners[PARTNER].issuer + "/"}),
        "unknown_issuer",
    ),
    "iss-case-changed": (
        lambda forge: forge.token(claims={"iss": forge.config.partners[PARTNER].issuer.upper()}),
        "unknown_issuer",
    ),
    "iss-list": (
        lambda forge: forge.token(claims={"iss": [forge.config.partners[PARTNER].issuer]}),
        "unknown_issuer",
    ),
    "aud-other-service": (_claims(aud="https://tillit.lahti.fi/other"), "wrong_audience"),
    "aud-prefix": (
        _claims(aud="https://tillit.lahti.fi/broker.attacker.example"),
        "wrong_audience",
    ),
    "client-id-of-another-partner": (_claims(client_id="kela"), "wrong_client"),
    "client-id-not-a-string": (_claims(client_id=["lahti-education"]), "invalid_token"),
    "issuer-of-A-signed-by-B": (
        lambda forge: forge.token(sign=es256_signer(forge.key("kela"))),
        "invalid_token",
    ),
    "signed-by-attacker-with-real-kid": (
        lambda forge: forge.token(sign=es256_signer(ATTACKER_P256)),
        "invalid_token",
    ),
    # missing claims
    # without `iss` no partner's keys can even be chosen
    "missing-iss": (_missing("iss"), "unknown_issuer"),
    **{
        f"missing-{claim}": (_missing(claim), "missing_claim")
        for claim in ("aud", "sub", "client_id", "iat", "exp", "jti")
    },
    # broken signatures and payloads
    "signature-stripped": (_tampered(lambda t: t.rsplit(".", 1)[0] + "."), "invalid_token"),
    "signature-segment-removed": (_tampered(lambda t: t.rsplit(".", 1)[0]), "invalid_token"),
    "signature-truncated": (_tampered(lambda t: t[:-10]), "invalid_token"),
    "signature-bit-flipped": (_tampered(_flip_last_signature_byte), "invalid_token"),
    "payload-edited": (_tampered(_swap_payload), "invalid_token"),
    "extra-segment": (_tampered(lambda t: t + ".AAAA"), "invalid_token"),
    # JSON members named twice (PyJWT keeps the last; another reader might keep the first)
    "duplicate-alg": (_duplicate_header('"alg":"none"', '"alg":"ES256"'), "invalid_token"),
    "duplicate-typ": (_duplicate_header('"typ":"JWT"', '"typ":"at+jwt"'), "invalid_token"),
    "duplicate-kid": (
        lambda forge: _duplicate_header(
            '"kid":"../../etc/passwd"', f'"kid":"{forge.kid(PARTNER)}"'
        )(forge),
        "invalid_token",
    ),
    "duplicate-aud": (_duplicate_claim("aud", "https://attacker.example"), "invalid_token"),
    "duplicate-client-id": (_duplicate_claim("client_id", "kela"), "invalid_token"),
    # not a JWT at all
    "garbage-word": (_literal("not-a-jwt"), "invalid_token"),
    "garbage-dots": (_literal("a.b.c"), "invalid_token"),
    "garbage-only-dots": (_literal(".."), "invalid_token"),
    "garbage-json": (_literal('{"alg":"none"}'), "invalid_token"),
    "garbage-non-ascii": (_literal("äöå.äöå.äöå"), "invalid_token"),
    "garbage-header-not-object": (
        _literal(b64url(b"[1,2]") + "." + b64url(b"{}") + "."),
        "invalid_token",
    ),
    "garbage-deep-json": (
        _literal(b64url(b"[" * 3000 + b"]" * 3000) + "." + b64url(b"{}") + "."),
        "invalid_token",
    ),
    "huge-token": (lambda forge: forge.token(claims={"pad": "x" * 40_000}), "invalid_token"),
}
MALFORMED_AUTHORIZATION = {
    "no-header": None,
    "empty-bearer": "Bearer ",
    "basic-scheme": "Basic bGFodGk6c2VjcmV0",
    "token-without-scheme": "eyJhbGciOiJFUzI1NiJ9.e30.",
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_token_attack_is_refused_with_its_code(
    client: TestClient, forge: Forge, name: str
) -> None:
    build, code = ATTACKS[name]
    response = client.post("/v1/shares?limit=5", json=ECE_REQUEST, headers=bearer(build(forge)))
    assert_problem(response, 401, code)
    assert response.headers["www-authenticate"].startswith('Bearer realm="tillit"')


@pytest.mark.parametrize("name", sorted(MALFORMED_AUTHORIZATION))
def test_a_missing_or_foreign_authorization_header_is_missing_token(
    client: TestClient, name: str
) -> None:
    value = MALFORMED_AUTHORIZATION[name]
    headers = {} if value is None else {"Authorization": value}
    response = client.post("/v1/shares?limit=5", json=ECE_REQUEST, headers=headers)
    assert_problem(response, 401, "missing_token")


def test_a_token_is_good_for_exactly_one_request(client: TestClient, forge: Forge) -> None:
    token = forge.token()
    first = client.post("/v1/shares?limit=1", json=ECE_REQUEST, headers=bearer(token))
    assert first.status_code == 200, first.text
    for path in ("/v1/shares?limit=1", "/v1/catalog"):
        again = (
            client.post(path, json=ECE_REQUEST, headers=bearer(token))
            if path.startswith("/v1/shares")
            else client.get(path, headers=bearer(token))
        )
        assert_problem(again, 401, "token_replayed")


def test_the_forge_makes_tokens_the_broker_accepts(client: TestClient, forge: Forge) -> None:
    """The attacks differ from an accepted token only in what each one changes."""
    share = client.post("/v1/shares?limit=1", json=ECE_REQUEST, headers=bearer(forge.token()))
    assert share.status_code == 200, share.text
    catalog = client.get("/v1/catalog", headers=bearer(forge.token("kela")))
    assert catalog.status_code == 200, catalog.text


def test_no_attack_reaches_data(client: TestClient, forge: Forge) -> None:
    """Nothing is read, audited, receipted or disclosed for any of the attacks."""
    # Every disclosure is written as a batch; the per-subject index is filled from the batches
    # in the background, so its count moves with earlier shares, not with these requests.
    tables = ("share_receipts", "audit_log", "disclosure_batches", "lineage_outbox")
    before = {table: table_count(client, table) for table in tables}
    statuses = [
        client.post(
            "/v1/shares?limit=5", json=ECE_REQUEST, headers=bearer(build(forge))
        ).status_code
        for build, _code in ATTACKS.values()
    ]
    assert set(statuses) == {401}
    assert {table: table_count(client, table) for table in tables} == before
