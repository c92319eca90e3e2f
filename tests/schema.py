"""A test store the way a deployment has it: migrated, then the contracts' tables created."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from contracts.store import create_store_tables, make_engine
from tillit.migrations import upgrade


def prepare_store(engine: Engine) -> Engine:
    """Run `tillit db upgrade` and create the contracts' tables, as the pipeline would."""
    upgrade(engine)
    create_store_tables(engine)
    return engine


def migrate(database_url: str) -> str:
    """Run `tillit db upgrade` on the database at ``database_url``; returns the URL."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return database_url
