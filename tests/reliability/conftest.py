"""Fixtures for the fault tests: the broker's loaded store and configuration, as real processes
see them through ``TILLIT_*`` environment variables."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

# The broker app tests' session fixtures: one pipeline-loaded store and one demo configuration.
from tests.broker.app.conftest import AUDIENCE, broker_config, loaded_store  # noqa: F401
from tests.schema import migrate


def broker_environment(
    broker_config: dict[str, Path],  # noqa: F811
    database_url: str,
    **extra: str,
) -> dict[str, str]:
    """The environment a broker process reads its settings from."""
    return {
        "TILLIT_CONFIG_DIR": str(broker_config["config_dir"]),
        "TILLIT_DATABASE_URL": database_url,
        "TILLIT_PSEUDONYM_KEY": "k" * 64,
        "TILLIT_CHECKPOINT_KEY_FILE": str(broker_config["checkpoint"]),
        "TILLIT_AUDIENCE": AUDIENCE,
        **extra,
    }


@pytest.fixture
def sqlite_store(tmp_path: Path, loaded_store: Path) -> Path:  # noqa: F811
    """A private copy of the pipeline-loaded SQLite store."""
    copy = tmp_path / "store.db"
    shutil.copy(loaded_store, copy)
    return copy


def _admin(server_url: str) -> sa.Engine:
    return sa.create_engine(server_url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def postgres_template(
    postgres_server_url: str,
    legacy_drop: Path,
) -> Iterator[str]:
    """A PostgreSQL database the pipeline loaded once; tests get copies of it (fast)."""
    from orchestration.run import run_pipeline

    name = f"tillit_rel_template_{uuid.uuid4().hex[:12]}"
    admin = _admin(postgres_server_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(postgres_server_url).set(database=name)
    result = run_pipeline(
        migrate(url.render_as_string(hide_password=False)),
        str(legacy_drop),
        instance=dg.DagsterInstance.ephemeral(),
        log_level="ERROR",
    )
    assert result.success
    with admin.connect() as conn:
        # A template must have no sessions; only this test database's are ended.
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"),
            {"db": name},
        )
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def loaded_postgres_url(postgres_server_url: str, postgres_template: str) -> Iterator[str]:
    """A private copy of the pipeline-loaded PostgreSQL store for one test."""
    name = f"tillit_rel_{uuid.uuid4().hex[:12]}"
    admin = _admin(postgres_server_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    url = sa.engine.make_url(postgres_server_url).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
