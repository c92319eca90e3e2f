"""Alembic migrations of Tillit's own tables, shipped in the package and run by ``tillit db``.

``upgrade`` takes a PostgreSQL advisory lock, so two deploy jobs never migrate at once, and
adopts a database whose tables were created before Tillit had migrations: if its tables and
columns are exactly those of the baseline revision it is stamped at the baseline, then
upgraded; anything else is refused rather than guessed at.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from contracts.schema_revision import VERSION_TABLE, schema_revision

SCRIPT_LOCATION: Final = "tillit:migrations"
BASELINE: Final = "0001"
# A PostgreSQL advisory lock key of its own (the audit chain uses another).
MIGRATION_LOCK_KEY: Final = 0x71_11_17_DB


class AdoptionError(RuntimeError):
    """A database has Tillit tables but no migration history, and they differ from the baseline."""


@dataclass(frozen=True)
class UpgradeResult:
    """What an upgrade did: the revisions before and after, and whether it adopted the schema."""

    before: str | None
    after: str | None
    adopted: bool


def alembic_config(
    connection: Connection | None = None, *, database_url: str | None = None
) -> Config:
    """Alembic's configuration for the packaged scripts, on a connection or a URL."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def revisions() -> list[str]:
    """Every revision of the scripts, oldest first (one line of history, no branches)."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def head() -> str:
    """The revision this release's scripts end at."""
    head_revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head_revision is None:
        raise RuntimeError("the migration scripts have no head")
    return head_revision


def current(engine: Engine) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    with engine.connect() as conn:
        return schema_revision(conn)


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))


def upgrade(engine: Engine, revision: str = "head") -> UpgradeResult:
    """Migrate the database up to ``revision`` in one transaction; idempotent at head."""
    with engine.begin() as conn:
        _lock(conn)
        before = schema_revision(conn)
        adopted = before is None and _adopt_unversioned(conn)
        command.upgrade(alembic_config(conn), revision)
        after = schema_revision(conn)
    return UpgradeResult(before=before, after=after, adopted=adopted)


def downgrade(engine: Engine, revision: str) -> UpgradeResult:
    """Migrate the database down to ``revision`` (``base`` drops every Tillit table)."""
    with engine.begin() as conn:
        _lock(conn)
        before = schema_revision(conn)
        command.downgrade(alembic_config(conn), revision)
        after = schema_revision(conn)
    return UpgradeResult(before=before, after=after, adopted=False)


def upgrade_sql(database_url: str, revision: str = "head") -> str:
    """The SQL an upgrade from an empty database would run, for review (offline mode)."""
    buffer = io.StringIO()
    config = alembic_config(database_url=database_url)
    config.output_buffer = buffer
    command.upgrade(config, revision, sql=True)
    return buffer.getvalue()


def _table_columns(conn: Connection) -> dict[str, set[str]]:
    inspector = sa.inspect(conn)
    return {
        name: {column["name"] for column in inspector.get_columns(name)}
        for name in inspector.get_table_names()
        if name != VERSION_TABLE
    }


def baseline_columns() -> dict[str, set[str]]:
    """The tables and columns the baseline revision creates (migrated in a scratch database)."""
    scratch = sa.create_engine("sqlite://", poolclass=StaticPool)
    try:
        with scratch.begin() as conn:
            command.upgrade(alembic_config(conn), BASELINE)
            return _table_columns(conn)
    finally:
        scratch.dispose()


def _adopt_unversioned(conn: Connection) -> bool:
    """Stamp a pre-migration database at the baseline if it matches it; False if it is empty."""
    baseline = baseline_columns()
    existing = {name: columns for name, columns in _table_columns(conn).items() if name in baseline}
    if not existing:
        return False
    problems = [f"table {name} is missing" for name in sorted(baseline.keys() - existing.keys())]
    for name, columns in sorted(existing.items()):
        if columns != baseline[name]:
            extra, missing = sorted(columns - baseline[name]), sorted(baseline[name] - columns)
            problems.append(f"table {name} has extra columns {extra} and lacks {missing}")
    if problems:
        raise AdoptionError(
            "the database has Tillit tables but no migration history, and they differ from "
            f"revision {BASELINE}: " + "; ".join(problems)
        )
    command.stamp(alembic_config(conn), BASELINE)
    return True
