"""The broker checkpoints a SQLite store's write-ahead log in a background thread, and SQLite
no longer does so in the commits of the audit transactions and the background writers."""

from __future__ import annotations

from broker.config.settings import BrokerSettings
from broker.main import create_app
from contracts.background import WalCheckpointer
from contracts.store import BACKGROUND_AUTOCHECKPOINT_PAGES


def test_the_broker_checkpoints_in_the_background_unless_told_not_to(
    settings: BrokerSettings,
) -> None:
    app = create_app(settings)
    checkpointer = app.state.wal_checkpointer
    assert isinstance(checkpointer, WalCheckpointer)
    assert checkpointer.poll_interval == settings.sqlite_checkpoint_seconds
    assert checkpointer.runner_lock is not None
    assert checkpointer.runner_lock.path.endswith(".wal-checkpointer.lock")
    with app.state.runtime.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    assert pages == BACKGROUND_AUTOCHECKPOINT_PAGES
    # Off: SQLite checkpoints in the commits again, at its own threshold.
    off = create_app(settings.model_copy(update={"sqlite_checkpoint_seconds": 0}))
    assert off.state.wal_checkpointer is None
    with off.state.runtime.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
