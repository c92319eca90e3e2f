"""Dagster's own storage on PostgreSQL, configured by the shipped dagster-postgres.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from orchestration.run import run_pipeline
from tests.schema import migrate

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


def _instance_home(tmp_path: Path, config: str) -> Path:
    home = tmp_path / "dagster-home"
    home.mkdir()
    shutil.copy(ROOT / config, home / "dagster.yaml")  # what `make dagster-home` installs
    return home


def test_runs_are_recorded_in_postgresql(
    postgres_url: str, legacy_drop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dagster-postgres needs psycopg2 (it binds NOTIFY parameters on the client side).
    dagster_url = sa.engine.make_url(postgres_url).set(drivername="postgresql+psycopg2")
    monkeypatch.setenv("TILLIT_DAGSTER_PG_URL", dagster_url.render_as_string(hide_password=False))
    monkeypatch.setenv("DAGSTER_HOME", str(_instance_home(tmp_path, "dagster-postgres.yaml")))
    # Tillit's store in the same database: its migration history has a table of its own.
    store_url = migrate(postgres_url)
    with dg.DagsterInstance.get() as instance:
        result = run_pipeline(
            store_url,
            str(legacy_drop),
            instance=instance,
            selection=["persons", "households"],
            log_level="ERROR",
        )
    assert result.success
    # A new instance (another process would build the same) reads the run back from PostgreSQL.
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs(filters=dg.RunsFilter(run_ids=[result.run_id]))
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert instance.get_latest_materialization_event(dg.AssetKey("households")) is not None
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT status FROM runs WHERE run_id = :run_id"), {"run_id": result.run_id}
        ).scalar_one()
        materialized = conn.execute(
            sa.text(
                "SELECT count(*) FROM event_logs WHERE run_id = :run_id "
                "AND dagster_event_type = 'ASSET_MATERIALIZATION'"
            ),
            {"run_id": result.run_id},
        ).scalar_one()
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert stored == "SUCCESS"
    assert materialized == 2
    # Both migration histories side by side, and the sharing store's tables beside Dagster's.
    assert {"alembic_version", "tillit_alembic_version", "runs", "persons", "audit_log"} <= tables


def test_the_default_configuration_keeps_dagster_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _instance_home(tmp_path, "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert "Sqlite" in type(instance.run_storage).__name__
    assert (home / "history" / "runs.db").exists()
