"""Helpers for pipeline tests: run it and read back what landed."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from contracts.registry import all_contracts
from contracts.store import make_engine
from orchestration.run import run_pipeline
from tests.schema import migrate


def run(database_url: str, legacy_dir: Path) -> dg.ExecuteInProcessResult:
    """One in-process run on an ephemeral Dagster instance, on a migrated store."""
    return run_pipeline(
        migrate(database_url), str(legacy_dir), instance=dg.DagsterInstance.ephemeral()
    )


def row_counts(database_url: str) -> dict[str, int]:
    """Rows in every contract table and in quarantine."""
    engine = make_engine(database_url)
    names = [contract.name for contract in all_contracts()] + ["quarantine"]
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
            for name in names
        }


def quarantine_frame(database_url: str) -> pd.DataFrame:
    """The quarantine table."""
    with make_engine(database_url).connect() as conn:
        return pd.read_sql(sa.text("select * from quarantine"), conn)


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    """Asset keys materialized by a run."""
    return {
        event.asset_key.to_user_string()
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None
    }
