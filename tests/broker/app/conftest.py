"""A real broker over a real store: the pipeline's output, the demo configuration, fresh keys."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from broker.config.keys import ensure_demo_keys, mint_token
from broker.config.loader import read_partners
from broker.config.settings import BrokerSettings
from broker.main import create_app

ROOT = Path(__file__).resolve().parents[3]
AUDIENCE = "https://tillit.lahti.fi/broker"


@pytest.fixture(scope="session")
def loaded_store(tmp_path_factory: pytest.TempPathFactory, legacy_drop: Path) -> Path:
    """A SQLite store the pipeline has loaded once for the whole session."""
    from orchestration.run import run_pipeline
    from tests.schema import migrate

    path = tmp_path_factory.mktemp("broker-store") / "store.db"
    result = run_pipeline(
        migrate(f"sqlite:///{path}"),
        str(legacy_drop),
        instance=dg.DagsterInstance.ephemeral(),
        log_level="ERROR",
    )
    assert result.success
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def broker_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo configuration with freshly generated partner keys and broker secrets."""
    root = tmp_path_factory.mktemp("broker-config")
    config_dir = root / "config"
    shutil.copytree(ROOT / "config", config_dir)
    keys = ensure_demo_keys(read_partners(config_dir), root / "var" / "keys")
    checkpoint = root / "checkpoint.pem"
    checkpoint.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {"config_dir": config_dir, "checkpoint": checkpoint, **keys}


@pytest.fixture
def store_url(tmp_path: Path, loaded_store: Path) -> str:
    """A private copy of the loaded store for one test (audit tampering stays local)."""
    copy = tmp_path / "store.db"
    shutil.copy(loaded_store, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def settings(broker_config: dict[str, Path], store_url: str) -> BrokerSettings:
    return BrokerSettings(
        config_dir=broker_config["config_dir"],
        database_url=store_url,
        pseudonym_key=SecretStr("k" * 64),
        checkpoint_key_file=broker_config["checkpoint"],
        audience=AUDIENCE,
        # Tests ship lineage by hand (ship_once) so that nothing races their assertions.
        lineage_shipping=False,
    )


@pytest.fixture
def app(settings: BrokerSettings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


Minter = Callable[..., dict[str, str]]


@pytest.fixture
def auth(app: FastAPI, broker_config: dict[str, Path]) -> Minter:
    """Authorization headers with a fresh token for a partner (and optional subject)."""

    def headers(partner: str, subject: str | None = None, **extra: Any) -> dict[str, str]:
        config = app.state.runtime.config
        token = mint_token(
            config.partners[partner],
            broker_config[partner],
            AUDIENCE,
            subject or f"{partner}-caseworker",
            extra_claims=extra or None,
        )
        return {"Authorization": f"Bearer {token}"}

    return headers
