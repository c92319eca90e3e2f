"""Every asset materialization leaves START and COMPLETE (or FAIL) lineage, traceable to the
legacy field it came from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from lineage.namespaces import asset_run_id
from lineage.validation import validate_event
from tests.orchestration.pipeline_helpers import run

pytestmark = pytest.mark.integration


def _events(url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        payloads = conn.execute(sa.text("SELECT payload FROM lineage_events")).scalars().all()
    engine.dispose()
    return [json.loads(p) if isinstance(p, str) else p for p in payloads]


def test_a_run_records_start_and_complete_for_every_asset(
    tmp_path: Path, legacy_drop: Path
) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    result = run(url, legacy_drop)
    assert result.success
    events = _events(url)
    assert all(validate_event(event) == [] for event in events)
    by_asset: dict[str, set[str]] = {}
    for event in events:
        by_asset.setdefault(event["job"]["name"], set()).add(event["eventType"])
    assert by_asset["pipeline.persons"] == {"START", "COMPLETE"}
    assert by_asset["pipeline.daycare_within_four_months"] == {"START", "COMPLETE"}
    assert len(by_asset) == 9 and all(kinds == {"START", "COMPLETE"} for kinds in by_asset.values())
    persons = next(
        e for e in events if e["job"]["name"] == "pipeline.persons" and e["eventType"] == "COMPLETE"
    )
    assert persons["run"]["runId"] == asset_run_id(result.run_id, "persons")
    assert persons["run"]["facets"]["parent"]["run"]["runId"] == result.run_id
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        district = conn.execute(
            sa.text(
                "SELECT input_namespace, input_name, input_field FROM lineage_column_edges "
                "WHERE output_name = 'persons' AND output_field = 'district'"
            )
        ).all()
    engine.dispose()
    assert ("legacy://population-register", "population_register/VTJ_OTE.txt", "POSTINUMERO") in [
        tuple(row) for row in district
    ]


def test_a_failed_load_records_fail_with_the_error(tmp_path: Path, legacy_drop: Path) -> None:
    drifted = tmp_path / "legacy"
    shutil.copytree(legacy_drop, drifted)
    register = drifted / "population_register" / "VTJ_OTE.txt"
    register.write_bytes(register.read_bytes().replace(b"POSTINUMERO", b"POSTINRO", 1))
    url = f"sqlite:///{tmp_path}/store.db"
    assert not run(url, drifted).success
    failed = [e for e in _events(url) if e["eventType"] == "FAIL"]
    assert [e["job"]["name"] for e in failed] == ["pipeline.persons"]
    assert "POSTINUMERO" in failed[0]["run"]["facets"]["errorMessage"]["message"]


def test_a_cancelled_load_records_abort_not_fail(tmp_path: Path) -> None:
    from contracts.registry import get_contract
    from contracts.store import make_engine
    from orchestration.lineage import LineageResource
    from tests.schema import prepare_store

    engine = make_engine(f"sqlite:///{tmp_path}/store.db")
    prepare_store(engine)

    @dg.asset(name="persons")
    def cancelled(context) -> None:  # type: ignore[no-untyped-def]
        with LineageResource().track(context, get_contract("persons"), engine):
            raise dg.DagsterExecutionInterruptedError("run terminated by an operator")

    with pytest.raises(dg.DagsterExecutionInterruptedError):
        dg.materialize([cancelled], instance=dg.DagsterInstance.ephemeral())
    kinds = [e["eventType"] for e in _events(f"sqlite:///{tmp_path}/store.db")]
    assert sorted(kinds) == ["ABORT", "START"]
