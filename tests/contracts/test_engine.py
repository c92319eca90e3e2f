"""Every SQLite connection of a store engine is set up the same way."""

from __future__ import annotations

from pathlib import Path

from contracts.store import make_engine


def test_sqlite_connections_get_the_store_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as conn:
        names = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys", "temp_store")
        settings = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one() for name in names}
    # synchronous 1 is NORMAL; temp_store 2 is MEMORY.
    assert settings == {
        "journal_mode": "wal",
        "synchronous": 1,
        "busy_timeout": 30000,
        "foreign_keys": 1,
        "temp_store": 2,
    }
