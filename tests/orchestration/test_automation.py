"""A new legacy drop starts exactly one run; the daily schedule targets the whole store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration.automation import legacy_drop_sensor
from orchestration.resources import LegacyDropResource

ROOT = Path(__file__).resolve().parents[2]


def _evaluate(legacy_dir: Path, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(
        cursor=cursor, resources={"legacy": LegacyDropResource(legacy_dir=str(legacy_dir))}
    )
    return legacy_drop_sensor(context)  # type: ignore[no-any-return]


def test_a_new_drop_requests_one_run_keyed_by_its_id(tmp_path: Path, legacy_drop: Path) -> None:
    drop_id = json.loads((legacy_drop / "drop.json").read_text())["drop_id"]
    result = _evaluate(legacy_drop, cursor=None)
    assert isinstance(result, dg.SensorResult)
    assert [request.run_key for request in result.run_requests or []] == [drop_id]
    assert result.cursor == drop_id
    again = _evaluate(legacy_drop, cursor=drop_id)
    assert isinstance(again, dg.SkipReason)


def test_no_drop_means_no_run(tmp_path: Path) -> None:
    assert isinstance(_evaluate(tmp_path, cursor=None), dg.SkipReason)


@pytest.mark.integration
def test_dagster_validates_the_workspace(tmp_path: Path) -> None:
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Validation successful" in completed.stdout + completed.stderr
