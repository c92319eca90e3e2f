"""Fixtures for the fault tests: the broker's loaded store and configuration, as real processes
see them through ``TILLIT_*`` environment variables."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# The broker app tests' session fixtures: one pipeline-loaded store and one demo configuration.
from tests.broker.app.conftest import AUDIENCE, broker_config, loaded_store  # noqa: F401


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
