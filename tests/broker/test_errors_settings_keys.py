"""Problem documents, settings and secrets, demo keys and the contract adapter."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr, ValidationError

from broker.config import BrokerSettings, dataset_infos_from_contracts
from broker.config.keys import ensure_demo_keys, mint_token
from broker.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFound,
    PolicyDenied,
    RateLimited,
    ServiceUnavailable,
)
from tests.broker.conftest import DemoEnvironment

# --- errors -------------------------------------------------------------------------------


def test_policy_denial_is_a_problem_document_with_the_reason_code() -> None:
    problem = PolicyDenied("agreement_not_in_force", "agreement x ended 2025-07-31").to_problem(
        "/v1/shares"
    )
    assert problem == {
        "type": "https://tillit.fi/problems/agreement_not_in_force",
        "title": "Share denied by policy",
        "status": 403,
        "detail": "agreement x ended 2025-07-31",
        "code": "agreement_not_in_force",
        "instance": "/v1/shares",
    }


def test_authentication_errors_carry_a_challenge_and_a_fixed_detail() -> None:
    error = AuthenticationError("token_replayed")
    assert error.status == 401
    assert error.to_problem()["type"] == "https://tillit.fi/problems/token_replayed"
    assert error.headers["WWW-Authenticate"].startswith(
        'Bearer realm="tillit", error="invalid_token"'
    )
    assert AuthenticationError("missing_token").headers == {
        "WWW-Authenticate": 'Bearer realm="tillit"'
    }
    with pytest.raises(ValueError, match="unknown authentication error code"):
        AuthenticationError("because_i_said_so")


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFound(), 404, "not_found"),
        (ServiceUnavailable("audit log not writable"), 503, "service_unavailable"),
        (RateLimited(7), 429, "rate_limited"),
        (ConfigurationError(Path("config/partners.yaml"), "bad"), 500, "configuration_error"),
    ],
)
def test_status_and_code(error: Exception, status: int, code: str) -> None:
    problem = error.to_problem()  # type: ignore[attr-defined]
    assert (problem["status"], problem["code"]) == (status, code)


def test_rate_limit_says_when_to_retry() -> None:
    assert RateLimited(7).headers == {"Retry-After": "7"}


def test_configuration_error_names_the_file() -> None:
    error = ConfigurationError(Path("config/agreements/kela.yaml"), "unknown purpose 'x'")
    assert str(error) == "config/agreements/kela.yaml: unknown purpose 'x'"


# --- settings and secrets -----------------------------------------------------------------


def test_settings_come_from_tillit_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILLIT_AUDIENCE", "https://broker.example.fi")
    monkeypatch.setenv("TILLIT_TOKEN_LEEWAY_SECONDS", "5")
    settings = BrokerSettings()
    assert settings.audience == "https://broker.example.fi"
    assert settings.token_leeway_seconds == 5
    assert settings.max_token_lifetime_seconds == 300


def test_token_lifetime_cannot_exceed_five_minutes() -> None:
    with pytest.raises(ValidationError):
        BrokerSettings(max_token_lifetime_seconds=301)


def test_outside_demo_mode_missing_secrets_stop_the_broker(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="pseudonym key missing"):
        BrokerSettings(demo_mode=False).resolve_secrets(tmp_path)
    settings = BrokerSettings(pseudonym_key=SecretStr("k" * 32))
    with pytest.raises(ConfigurationError, match="checkpoint signing key missing"):
        settings.resolve_secrets(tmp_path)
    assert not list(tmp_path.iterdir()), "nothing is generated outside demo mode"


def test_short_pseudonym_key_is_refused(tmp_path: Path) -> None:
    settings = BrokerSettings(pseudonym_key=SecretStr("short"), demo_mode=True)
    with pytest.raises(ConfigurationError, match="shorter than 32 bytes"):
        settings.resolve_secrets(tmp_path)


def test_key_and_key_file_together_are_ambiguous(tmp_path: Path) -> None:
    settings = BrokerSettings(
        pseudonym_key=SecretStr("k" * 32), pseudonym_key_file=tmp_path / "key", demo_mode=True
    )
    with pytest.raises(ConfigurationError, match="not both"):
        settings.resolve_secrets(tmp_path)


def test_checkpoint_key_must_be_ed25519(tmp_path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "checkpoint.pem").write_bytes(pem)
    settings = BrokerSettings(
        pseudonym_key=SecretStr("k" * 32), checkpoint_key_file=tmp_path / "checkpoint.pem"
    )
    with pytest.raises(ConfigurationError, match="Ed25519"):
        settings.resolve_secrets(tmp_path)


def test_demo_mode_generates_persistent_private_secrets(tmp_path: Path) -> None:
    settings = BrokerSettings(demo_mode=True)
    first = settings.resolve_secrets(tmp_path / "secrets")
    second = settings.resolve_secrets(tmp_path / "secrets")
    assert first.pseudonym_key == second.pseudonym_key and len(first.pseudonym_key) >= 32
    assert isinstance(first.checkpoint_key, Ed25519PrivateKey)
    public = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert first.checkpoint_key.public_key().public_bytes(*public) == (
        second.checkpoint_key.public_key().public_bytes(*public)
    )
    for path in (tmp_path / "secrets").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert repr(first) == "BrokerSecrets()", "key material never appears in logs"


# --- demo keys and tokens -----------------------------------------------------------------


def test_demo_keys_are_private_and_stable(tmp_path: Path, demo: DemoEnvironment) -> None:
    partners = list(demo.config.partners.values())[:2]
    paths = ensure_demo_keys(partners, tmp_path / "keys")
    before = {p: p.read_bytes() for p in paths.values()}
    ensure_demo_keys(partners, tmp_path / "keys")
    for path, content in before.items():
        assert path.read_bytes() == content, "existing keys are never replaced"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    jwks = (tmp_path / "keys" / f"{partners[0].id}.jwks.json").read_text()
    assert '"d"' not in jwks, "the public key set holds no private material"


def test_mint_token_produces_an_rfc9068_access_token(demo: DemoEnvironment) -> None:
    partner = demo.config.partners["kela"]
    token = mint_token(
        partner,
        demo.private_key("kela"),
        "https://aud",
        "caseworker-17",
        lifetime=60,
        extra_claims={"scope": "shares"},
        issued_at=1_800_000_000,
    )
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"]
    assert claims["iss"] == partner.issuer and claims["client_id"] == "kela"
    assert claims["exp"] - claims["iat"] == 60 and claims["scope"] == "shares"
    other = mint_token(partner, demo.private_key("kela"), "https://aud", "caseworker-17")
    assert jwt.decode(other, options={"verify_signature": False})["jti"] != claims["jti"]


# --- contract adapter ---------------------------------------------------------------------


class _Level(StrEnum):
    PERSONAL = "personal"


@dataclass
class _Field:
    name: str
    classification: object
    identifier: object


@dataclass
class _Contract:
    name: str
    version: str
    purposes: tuple[str, ...]
    legal_basis: str
    fields: tuple[_Field, ...]


def test_contracts_are_adapted_by_duck_typing() -> None:
    contract = _Contract(
        "persons",
        "1.0.0",
        ("population_information",),
        "population_information_act_661_2009",
        (_Field("person_id", _Level.PERSONAL, "direct"), _Field("district", "internal", "quasi")),
    )
    info = dataset_infos_from_contracts([contract])["persons"]
    assert info.fields["person_id"] == ("personal", "direct")
    assert info.is_direct_identifier("person_id") and not info.is_direct_identifier("district")
    assert info.quasi_identifiers() == ("district",)


def test_unknown_classification_is_refused() -> None:
    contract = _Contract("x", "1.0.0", ("p",), "b", (_Field("f", "secret", "none"),))
    with pytest.raises(ValueError, match="unknown classification"):
        dataset_infos_from_contracts([contract])
