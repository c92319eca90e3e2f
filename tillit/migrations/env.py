"""Alembic environment of Tillit's own tables; run by ``tillit db`` (see tillit.migrations)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from contracts.schema_revision import VERSION_TABLE
from contracts.store import make_engine
from tillit.migrations.metadata import include_object, owned_metadata

config = context.config


def _configure(**options: Any) -> None:
    context.configure(
        target_metadata=owned_metadata(),
        include_object=include_object,
        # Not Alembic's default name: Dagster's PostgreSQL storage keeps its own alembic_version.
        version_table=VERSION_TABLE,
        compare_type=True,
        # SQLite alters a table by copying it; batch mode does that for ALTER operations.
        render_as_batch=True,
        **options,
    )


def _run(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Run against the connection tillit.migrations passes in, or the configured URL."""
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        _configure(url=url, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if not url:
        raise RuntimeError("no database: set TILLIT_DATABASE_URL or pass --database-url")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


run_migrations()
