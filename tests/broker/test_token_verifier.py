"""Every authentication rule, each exercised with a forged or defective access token."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.auth import (
    DefaultJwksFetcher,
    InMemoryReplayCache,
    JwksProvider,
    Principal,
    TokenVerifier,
)
from broker.auth.jwks import KeyNotCached
from broker.auth.verifier import _READER, _SegmentReader
from broker.config import BrokerSettings
from broker.config.keys import load_private_key, mint_token, public_jwk
from broker.errors import AUTHENTICATION_DETAILS, AuthenticationError
from tests.broker.conftest import DemoEnvironment
from tests.broker.tokens import AUDIENCE, DROP, FakeClock, TokenFactory, b64url, forge


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def verifier(demo: DemoEnvironment, clock: FakeClock) -> TokenVerifier:
    settings = BrokerSettings(audience=AUDIENCE, token_leeway_seconds=30)
    jwks = JwksProvider(DefaultJwksFetcher(), clock, settings.jwks_refresh_min_interval_seconds)
    return TokenVerifier(demo.config, settings, jwks, InMemoryReplayCache(clock), clock)


@pytest.fixture
def tokens(demo: DemoEnvironment, clock: FakeClock) -> TokenFactory:
    return TokenFactory(demo, clock)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rejected(verifier: TokenVerifier, token: str) -> str:
    """The code a token is rejected with (fails the test if it is accepted)."""
    with pytest.raises(AuthenticationError) as caught:
        verifier.verify(token)
    error = caught.value
    # The response says nothing beyond the code: the detail is the fixed text for that code.
    assert error.detail == AUTHENTICATION_DETAILS[error.code]
    assert error.status == 401 and "WWW-Authenticate" in error.headers
    return error.code


def test_a_valid_token_yields_the_partner(
    verifier: TokenVerifier, tokens: TokenFactory, clock: FakeClock
) -> None:
    token = tokens.token("statistics-finland", claims={"jti": "jti-1"})
    principal = verifier.verify(token)
    assert principal == Principal(
        partner_id="statistics-finland",
        kind="statistics",
        roles=("requester",),
        subject="statistics-finland-service",
        issuer="https://idp.stat.fi",
        jti="jti-1",
        client_id="statistics-finland",
        expires_at=datetime.fromtimestamp(int(clock.now) + 120, tz=UTC),
    )


def test_minted_dev_tokens_verify(
    demo: DemoEnvironment, verifier: TokenVerifier, clock: FakeClock
) -> None:
    partner = demo.config.partners["tillit-operations"]
    token = mint_token(
        partner, demo.private_key(partner.id), AUDIENCE, "operator@tillit", issued_at=int(clock.now)
    )
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    principal = verifier.verify(token)
    assert principal.has_role("operator") and principal.subject == "operator@tillit"


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
def test_access_token_types_are_accepted(
    verifier: TokenVerifier, tokens: TokenFactory, typ: str
) -> None:
    assert verifier.verify(tokens.token(header={"typ": typ})).partner_id == "kela"


@pytest.mark.parametrize("typ", [None, "JWT", "at+jwt; charset=x", "id_token"])
def test_other_token_types_are_refused(
    verifier: TokenVerifier, tokens: TokenFactory, typ: str | None
) -> None:
    assert rejected(verifier, tokens.token(header={"typ": typ})) == "wrong_token_type"


def test_alg_none_is_refused(verifier: TokenVerifier, tokens: TokenFactory) -> None:
    token = forge({**tokens.header("kela"), "alg": "none"}, tokens.claims("kela"), lambda _: b"")
    assert rejected(verifier, token) == "algorithm_not_allowed"


def test_hs256_signed_with_the_public_key_is_refused(
    verifier: TokenVerifier, tokens: TokenFactory, demo: DemoEnvironment
) -> None:
    # The classic key-confusion attack: HMAC keyed with the issuer's public key PEM.
    public_pem = (
        load_private_key(demo.private_key("kela"))
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {**tokens.header("kela"), "alg": "HS256"}
    token = forge(
        header,
        tokens.claims("kela"),
        lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
    )
    assert rejected(verifier, token) == "algorithm_not_allowed"


def test_rs256_is_refused_when_the_partner_allows_only_es256(
    verifier: TokenVerifier, tokens: TokenFactory, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = tokens.token("asikkala", key=rsa_key, algorithm="RS256")
    assert rejected(verifier, token) == "algorithm_not_allowed"


def test_an_allowed_algorithm_must_also_fit_the_selected_key(
    verifier: TokenVerifier, tokens: TokenFactory, rsa_key: rsa.RSAPrivateKey
) -> None:
    # Kela allows PS256, but the key under this kid is an EC P-256 key bound to ES256.
    token = tokens.token("kela", key=rsa_key, algorithm="PS256")
    assert rejected(verifier, token) == "algorithm_not_allowed"


def test_es384_with_a_p256_key_is_refused(verifier: TokenVerifier, tokens: TokenFactory) -> None:
    token = tokens.token("kela", key=ec.generate_private_key(ec.SECP384R1()), algorithm="ES384")
    assert rejected(verifier, token) == "algorithm_not_allowed"


def test_unknown_kid_is_refused(verifier: TokenVerifier, tokens: TokenFactory) -> None:
    assert rejected(verifier, tokens.token(header={"kid": "no-such-key"})) == "unknown_key"


def test_missing_kid_is_refused(verifier: TokenVerifier, tokens: TokenFactory) -> None:
    assert rejected(verifier, tokens.token(header={"kid": DROP})) == "unknown_key"


def test_a_key_of_another_issuer_is_not_found(
    verifier: TokenVerifier, tokens: TokenFactory
) -> None:
    # Claims to be Kela, signed with Asikkala's key and naming Asikkala's kid.
    token = tokens.token("kela", signer="asikkala", header={"kid": tokens.kid("asikkala")})
    assert rejected(verifier, token) == "unknown_key"


def test_a_signature_by_another_issuers_key_does_not_verify(
    verifier: TokenVerifier, tokens: TokenFactory
) -> None:
    # Claims to be Kela and names Kela's kid, but Asikkala signed it.
    assert rejected(verifier, tokens.token("kela", signer="asikkala")) == "invalid_token"


@pytest.mark.parametrize(
    "header",
    [
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}},
        {"x5c": ["MIIB"]},
        {"crit": ["b64"], "b64": True},
    ],
    ids=["jku", "x5u", "jwk", "x5c", "crit"],
)
def test_key_pointing_and_critical_headers_are_refused(
    verifier: TokenVerifier, tokens: TokenFactory, header: dict[str, Any]
) -> None:
    token = forge({**tokens.header("kela", **header), "alg": "ES256"}, tokens.claims("kela"), bytes)
    assert rejected(verifier, token) == "header_not_allowed"


def test_unknown_critical_extensions_are_refused(
    verifier: TokenVerifier, tokens: TokenFactory
) -> None:
    header = {**tokens.header("kela", crit=["tillit-magic"]), "alg": "ES256"}
    assert rejected(verifier, forge(header, tokens.claims("kela"), bytes)) == "invalid_token"


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "jti", "aud", "client_id"])
def test_required_claims(verifier: TokenVerifier, tokens: TokenFactory, claim: str) -> None:
    assert rejected(verifier, tokens.token(claims={claim: DROP})) == "missing_claim"


def test_expired_token(verifier: TokenVerifier, tokens: TokenFactory, clock: FakeClock) -> None:
    token = tokens.token()
    clock.advance(120 + 30)
    assert rejected(verifier, token) == "token_expired"


def test_expiry_leeway(verifier: TokenVerifier, tokens: TokenFactory, clock: FakeClock) -> None:
    token = tokens.token()
    clock.advance(120 + 29)
    assert verifier.verify(token).partner_id == "kela"


def test_token_issued_in_the_future(
    verifier: TokenVerifier, tokens: TokenFactory, clock: FakeClock
) -> None:
    future = int(clock.now) + 31
    token = tokens.token(claims={"iat": future, "exp": future + 60})
    assert rejected(verifier, token) == "token_not_yet_valid"


def test_small_clock_skew_is_tolerated(
    verifier: TokenVerifier, tokens: TokenFactory, clock: FakeClock
) -> None:
    future = int(clock.now) + 30
    assert verifier.verify(tokens.token(claims={"iat": future, "exp": future + 60})).jti


def test_not_before_in_the_future(
    verifier: TokenVerifier, tokens: TokenFactory, clock: FakeClock
) -> None:
    assert (
        rejected(verifier, tokens.token(claims={"nbf": int(clock.now) + 60}))
        == "token_not_yet_valid"
    )


@pytest.mark.parametrize(("lifetime", "accepted"), [(300, True), (301, False), (3600, False)])
def test_token_lifetime_is_capped(
    verifier: TokenVerifier, tokens: TokenFactory, clock: FakeClock, lifetime: int, accepted: bool
) -> None:
    token = tokens.token(claims={"exp": int(clock.now) + lifetime})
    if accepted:
        assert verifier.verify(token).partner_id == "kela"
    else:
        assert rejected(verifier, token) == "token_lifetime_too_long"


def test_exp_before_iat(verifier: TokenVerifier, tokens: TokenFactory, clock: FakeClock) -> None:
    token = tokens.token(claims={"iat": int(clock.now) + 20, "exp": int(clock.now) + 10})
    assert rejected(verifier, token) == "invalid_token"


@pytest.mark.parametrize("claim", ["exp", "iat"])
def test_non_numeric_times(verifier: TokenVerifier, tokens: TokenFactory, claim: str) -> None:
    assert rejected(verifier, tokens.token(claims={claim: "soon"})) == "invalid_token"


def test_wrong_audience(verifier: TokenVerifier, tokens: TokenFactory) -> None:
    token = tokens.token(claims={"aud": "https://tillit.lahti.fi/other"})
    assert rejected(verifier, token) == "wrong_audience"


def test_audience_list_containing_the_broker(verifier: TokenVerifier, tokens: TokenFactory) -> None:
    token = tokens.token(claims={"aud": ["https://api.kela.fi", AUDIENCE]})
    assert verifier.verify(token).partner_id == "kela"


@pytest.mark.parametrize(
    "issuer", ["https://idp.kela.fi/", "https://IDP.kela.fi", "https://evil.example", 42, None]
)
def test_issuer_must_match_exactly(
    verifier: TokenVerifier, tokens: TokenFactory, issuer: Any
) -> None:
    header = {**tokens.header("kela"), "alg": "ES256"}
    token = forge(header, tokens.claims("kela", iss=issuer), lambda _: b"signature")
    assert rejected(verifier, token) == "unknown_issuer"


def test_replayed_token(verifier: TokenVerifier, tokens: TokenFactory) -> None:
    token = tokens.token()
    verifier.verify(token)
    assert rejected(verifier, token) == "token_replayed"


def test_replay_is_per_jti_even_with_a_new_signature(
    verifier: TokenVerifier, tokens: TokenFactory
) -> None:
    verifier.verify(tokens.token(claims={"jti": "once"}))
    assert rejected(verifier, tokens.token(claims={"jti": "once"})) == "token_replayed"


def test_jti_namespaces_are_per_issuer(verifier: TokenVerifier, tokens: TokenFactory) -> None:
    verifier.verify(tokens.token("kela", claims={"jti": "shared"}))
    assert (
        verifier.verify(tokens.token("asikkala", claims={"jti": "shared"})).partner_id == "asikkala"
    )


def test_forged_tokens_cannot_burn_a_jti(verifier: TokenVerifier, tokens: TokenFactory) -> None:
    forged = tokens.token("kela", signer="asikkala", claims={"jti": "victim"})
    assert rejected(verifier, forged) == "invalid_token"
    assert verifier.verify(tokens.token("kela", claims={"jti": "victim"})).jti == "victim"


def test_tampered_payload(verifier: TokenVerifier, tokens: TokenFactory) -> None:
    header, _, signature = tokens.token("asikkala").split(".")
    claims = tokens.claims("asikkala", sub="someone-else")
    token = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"
    assert rejected(verifier, token) == "invalid_token"


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "x" * 20000])
def test_garbage(verifier: TokenVerifier, token: str) -> None:
    assert rejected(verifier, token) == "invalid_token"


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", 123),
        ("jti", ""),
        ("client_id", ["kela"]),
        # Lone surrogates, which JSON's \u escapes can spell: no Unicode text, so they could
        # be neither stored nor hashed into the audit record.
        ("sub", "010101-123N\ud800"),
        ("jti", "\udfff"),
        ("client_id", "kela\ud83d"),
    ],
)
def test_malformed_identity_claims(
    verifier: TokenVerifier, tokens: TokenFactory, claim: str, value: Any
) -> None:
    assert rejected(verifier, tokens.token(claims={claim: value})) == "invalid_token"


class _SwappableKeys:
    """A JWKS provider whose key under a kid can be replaced between requests."""

    def __init__(self, jwk: dict[str, Any]) -> None:
        self.jwk = jwk

    def key(self, partner: Any, kid: str, *, fetch: bool = True) -> dict[str, Any]:
        return self.jwk


def test_a_key_replaced_under_the_same_kid_is_the_one_verified_against(
    demo: DemoEnvironment, clock: FakeClock, tokens: TokenFactory
) -> None:
    # Verification keys are built once per key; the cache must follow the key's material,
    # never the kid, or a revoked key would keep verifying.
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    kid = tokens.kid("kela")
    keys = _SwappableKeys(public_jwk(old) | {"kid": kid})
    settings = BrokerSettings(audience=AUDIENCE, token_leeway_seconds=30)
    verifier = TokenVerifier(demo.config, settings, keys, InMemoryReplayCache(clock), clock)  # type: ignore[arg-type]
    assert verifier.verify(tokens.token("kela", key=old)).partner_id == "kela"
    keys.jwk = public_jwk(new) | {"kid": kid}
    assert rejected(verifier, tokens.token("kela", key=old)) == "invalid_token"
    assert verifier.verify(tokens.token("kela", key=new)).partner_id == "kela"


def test_a_check_that_may_not_fetch_stops_before_any_verdict_when_the_key_is_not_cached(
    demo: DemoEnvironment, clock: FakeClock, tokens: TokenFactory
) -> None:
    settings = BrokerSettings(audience=AUDIENCE, token_leeway_seconds=30)
    fetched: list[str] = []

    def fetcher(partner: Any) -> Any:
        fetched.append(partner.id)
        return DefaultJwksFetcher()(partner)

    jwks = JwksProvider(fetcher, clock, settings.jwks_refresh_min_interval_seconds)
    verifier = TokenVerifier(demo.config, settings, jwks, InMemoryReplayCache(clock), clock)
    token = tokens.token("kela")
    with pytest.raises(KeyNotCached):
        verifier.check(token, fetch_keys=False)
    assert fetched == []
    # Defects that need no key are still refused without one.
    assert rejected(verifier, tokens.token("kela", header={"jku": "https://x"})) == (
        "header_not_allowed"
    )
    principal, use = verifier.check(token)
    assert principal.partner_id == "kela" and fetched == ["kela"]
    again = tokens.token("kela")
    assert verifier.check(again, fetch_keys=False)[0].partner_id == "kela"
    assert fetched == ["kela"]


_SEGMENT_BYTES = st.binary(max_size=24) | st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .!\u00e9",
    max_size=24,
).map(str.encode)


@settings(max_examples=2000, deadline=None)
@given(segment=_SEGMENT_BYTES)
def test_token_segments_are_read_exactly_as_pyjwt_reads_them(segment: bytes) -> None:
    """The verifier's faster segment reading decodes what PyJWT decodes and refuses what it
    refuses (non-alphabet junk, excess or misplaced padding, non-canonical trailing bits)."""

    def reading(read: Any) -> bytes | str:
        try:
            decoded: bytes = read(segment, "payload")
        except jwt.DecodeError as error:
            return f"refused: {error}"
        return decoded

    assert reading(_SegmentReader._decode_base64url_segment) == reading(
        jwt.api_jws.PyJWS._decode_base64url_segment
    )


def test_a_payload_naming_a_member_twice_is_refused_in_the_verified_reading() -> None:
    """The reader refuses a repeated payload member in the parse PyJWT makes of it, verified
    or not, whatever the values."""
    key = b"k" * 32
    header = b64url(json.dumps({"alg": "HS256", "typ": "at+jwt"}).encode())
    payload = b64url(b'{"sub":"a","aud":"x","sub":"a"}')
    signing_input = f"{header}.{payload}"
    signature = b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())
    token = f"{signing_input}.{signature}"
    assert jwt.decode(token, key, algorithms=["HS256"], options={"verify_aud": False})
    with pytest.raises(jwt.DecodeError, match="duplicate member name"):
        _READER.decode(token, key, algorithms=["HS256"], options={"verify_aud": False})
    with pytest.raises(jwt.DecodeError, match="duplicate member name"):
        _READER.decode_complete(token, options={"verify_signature": False})
