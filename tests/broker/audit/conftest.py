"""Fixtures for the audit tests: a file-backed SQLite store with the audit tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine

from broker.audit import CheckpointSigner
from contracts.store import make_engine
from tests.schema import prepare_store


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a fresh SQLite file database with the store schema."""
    url = f"sqlite:///{tmp_path / 'tillit.db'}"
    engine = make_engine(url)
    prepare_store(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    """An engine on the fresh SQLite store."""
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def signer() -> CheckpointSigner:
    """A checkpoint signer with a fresh Ed25519 key."""
    return CheckpointSigner(Ed25519PrivateKey.generate())
