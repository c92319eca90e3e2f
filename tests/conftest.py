"""Fixtures shared by the whole suite: a generated legacy drop and real databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def legacy_drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated drop of the four legacy systems, with defects injected."""
    from orchestration.legacy import generate_legacy

    out = tmp_path_factory.mktemp("legacy")
    generate_legacy(out, people=1500, seed=11, defect_rate=0.03)
    return out


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """URL of the PostgreSQL server; unreachable means skip locally, fail under CI=true."""
    url = os.environ.get("TILLIT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        with sa.create_engine(url).connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {url} is unreachable under CI: {error}")
        pytest.skip(f"PostgreSQL at {url} is unreachable")
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"tillit_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(postgres_server_url).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
