"""Dagster resources: the sharing store and the legacy drop, configured from the environment."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from sqlalchemy.engine import Engine

from contracts.schema_revision import require_current_schema
from contracts.store import create_store_tables, make_engine
from orchestration.legacy import DropInfo, read_drop_info
from orchestration.lineage import LineageResource

DEFAULT_DATABASE_URL = "sqlite:///var/tillit.db"
DEFAULT_LEGACY_DIR = "var/legacy"
_ENGINES: dict[str, Engine] = {}


class StoreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The curated sharing store (SQLite by default, PostgreSQL in production)."""

    database_url: str = DEFAULT_DATABASE_URL

    def engine(self) -> Engine:
        """A pooled engine for this URL (one per process), the contracts' tables in place.

        Refuses a database not migrated to this release (``tillit db upgrade``).
        """
        engine = _ENGINES.get(self.database_url)
        if engine is None:
            engine = make_engine(self.database_url)
            require_current_schema(engine)
            create_store_tables(engine)
            _ENGINES[self.database_url] = engine
        return engine


def release_engine(database_url: str) -> None:
    """Close and forget this process's engine for a URL (before its database is replaced)."""
    engine = _ENGINES.pop(database_url, None)
    if engine is not None:
        engine.dispose()


class LegacyDropResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The directory where the legacy systems' latest extracts (a "drop") are delivered."""

    legacy_dir: str = DEFAULT_LEGACY_DIR

    @property
    def path(self) -> Path:
        """The drop directory."""
        return Path(self.legacy_dir)

    def drop_info(self) -> DropInfo:
        """Metadata of the current drop (extract date, files)."""
        return read_drop_info(self.path)


def _from_env(name: str, default: str) -> str | dg.EnvVar:
    # EnvVar keeps the value out of the UI and resolves it at launch; the default applies
    # only when the variable is not set at all.
    return dg.EnvVar(name) if name in os.environ else default


def default_resources() -> dict[str, dg.ConfigurableResource]:  # type: ignore[type-arg]
    """Resources configured from TILLIT_DATABASE_URL and TILLIT_LEGACY_DIR."""
    return {
        "store": StoreResource(database_url=_from_env("TILLIT_DATABASE_URL", DEFAULT_DATABASE_URL)),
        "legacy": LegacyDropResource(legacy_dir=_from_env("TILLIT_LEGACY_DIR", DEFAULT_LEGACY_DIR)),
        "lineage": LineageResource(),
    }
