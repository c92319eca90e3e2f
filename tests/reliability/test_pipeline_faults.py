"""Pipeline faults: a run killed half-way and re-run leaves exactly a clean run's data; a
transient source failure is retried while a contract violation fails fast."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import dagster as dg
import pytest
import sqlalchemy as sa

from contracts.store import dataset_loads, make_engine
from orchestration.legacy import DropInfo
from orchestration.lineage import LineageResource
from orchestration.resources import LegacyDropResource, StoreResource
from orchestration.run import pipeline_definitions
from tests.broker.app.conftest import ROOT
from tests.orchestration.pipeline_helpers import materialized, row_counts, run
from tests.reliability.support import report
from tests.schema import migrate

pytestmark = pytest.mark.integration


def _loads(engine: sa.Engine) -> list[sa.Row[tuple[object, ...]]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(dataset_loads).order_by(dataset_loads.c.id)).all())


def _count(engine: sa.Engine, table: str, **where: str) -> int:
    query = sa.select(sa.func.count()).select_from(sa.table(table, *map(sa.column, where)))
    for name, value in where.items():
        query = query.where(sa.column(name) == value)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _duplicated_quarantine_rows(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM (SELECT dataset, source_ref, check_name, column_name "
                    "FROM quarantine GROUP BY dataset, source_ref, check_name, column_name "
                    "HAVING count(*) > 1) AS duplicated"
                )
            ).scalar_one()
        )


def test_a_run_killed_half_way_then_rerun_equals_a_clean_run(
    tmp_path: Path, legacy_drop: Path, loaded_store: Path
) -> None:
    url = migrate(f"sqlite:///{tmp_path / 'store.db'}")
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    command = [
        sys.executable,
        "-c",
        "from tillit.cli import main; main()",
        "pipeline",
        "run",
        "--database-url",
        url,
        "--legacy-dir",
        str(legacy_drop),
    ]
    with (tmp_path / "run.log").open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        engine = make_engine(url)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    if _loads(engine):
                        break
                except sa.exc.OperationalError:
                    pass  # the run has not created the store yet
                time.sleep(0.05)
            assert process.poll() is None, "the run ended before it could be killed half-way"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()

    # What survived the kill is whole: each dataset written is exactly its recorded load.
    committed = _loads(engine)
    assert committed, "no dataset committed before the kill"
    for load in committed:
        assert _count(engine, load.dataset) == load.rows_loaded
        assert _count(engine, "quarantine", dataset=load.dataset) == load.rows_quarantined

    rerun = run(url, legacy_drop)
    assert rerun.success
    clean = row_counts(f"sqlite:///{loaded_store}")
    assert row_counts(url) == clean
    assert _duplicated_quarantine_rows(engine) == 0
    engine.dispose()
    report(
        "pipeline_killed_and_rerun",
        {"datasets_committed_before_the_kill": [load.dataset for load in committed], **clean},
    )


class FlakyLegacyDrop(LegacyDropResource):
    """A drop on a file share that fails the first time each process reads it."""

    failures: ClassVar[list[str]] = []

    def drop_info(self) -> DropInfo:
        if not self.failures:
            self.failures.append("failed once")
            raise OSError("the file share did not answer")
        return super().drop_info()


def _materialize_persons(url: str, legacy: LegacyDropResource) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        pipeline_definitions(),
        resources={
            "store": StoreResource(database_url=url),
            "legacy": legacy,
            "lineage": LineageResource(enabled=False),
        },
        selection=["persons"],
        raise_on_error=False,
        instance=dg.DagsterInstance.ephemeral(),
    )


def _step_events(result: dg.ExecuteInProcessResult, kind: dg.DagsterEventType) -> list[str]:
    return [event.step_key for event in result.all_events if event.event_type == kind]


def test_a_transient_source_failure_is_retried(tmp_path: Path, legacy_drop: Path) -> None:
    FlakyLegacyDrop.failures.clear()
    url = migrate(f"sqlite:///{tmp_path / 'store.db'}")
    result = _materialize_persons(url, FlakyLegacyDrop(legacy_dir=str(legacy_drop)))
    assert _step_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == ["persons"]
    assert _step_events(result, dg.DagsterEventType.STEP_RESTARTED) == ["persons"]
    assert result.success and "persons" in materialized(result)
    assert FlakyLegacyDrop.failures == ["failed once"]


def test_a_contract_violation_fails_fast_without_retry(tmp_path: Path, legacy_drop: Path) -> None:
    drifted = tmp_path / "legacy"
    shutil.copytree(legacy_drop, drifted)
    register = drifted / "population_register" / "VTJ_OTE.txt"
    register.write_bytes(register.read_bytes().replace(b"POSTINUMERO", b"POSTINRO", 1))
    url = migrate(f"sqlite:///{tmp_path / 'store.db'}")
    result = _materialize_persons(url, LegacyDropResource(legacy_dir=str(drifted)))
    assert not result.success
    assert _step_events(result, dg.DagsterEventType.STEP_FAILURE) == ["persons"]
    assert _step_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    failure = result.get_step_failure_events()[0]
    assert "POSTINUMERO" in failure.event_specific_data.error.message  # type: ignore[union-attr]


def test_malformed_records_are_quarantined_and_reconciled(
    tmp_path: Path, legacy_drop: Path
) -> None:
    drop = tmp_path / "legacy"
    shutil.copytree(legacy_drop, drop)
    register = drop / "population_register" / "VTJ_OTE.txt"
    lines = register.read_bytes().split(b"\n")
    lines[4] = lines[4][:20]  # a record cut short by a failed transfer
    lines[8] = b"\xff" * 12 + b"#" * 40  # a record overwritten with garbage
    register.write_bytes(b"\n".join(lines))
    data_records = sum(1 for line in lines[1:] if line)
    url = migrate(f"sqlite:///{tmp_path / 'store.db'}")
    result = _materialize_persons(url, LegacyDropResource(legacy_dir=str(drop)))
    assert result.success
    engine = make_engine(url)
    (load,) = _loads(engine)
    with engine.connect() as conn:
        refs = set(
            conn.execute(
                sa.text("SELECT DISTINCT source_ref FROM quarantine WHERE dataset = 'persons'")
            ).scalars()
        )
    engine.dispose()
    assert {"line 5", "line 9"} <= refs
    assert load.rows_in == data_records == load.rows_loaded + load.rows_quarantined
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["reconciliation"] is True
