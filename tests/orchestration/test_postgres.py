"""The same pipeline on PostgreSQL, the production store."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.legacy import load_manifest
from tests.orchestration.pipeline_helpers import quarantine_frame, row_counts, run

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


def test_the_pipeline_runs_on_postgres_and_reruns_cleanly(
    postgres_url: str, legacy_drop: Path
) -> None:
    result = run(postgres_url, legacy_drop)
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    held = quarantine_frame(postgres_url)
    manifest = load_manifest(legacy_drop)
    assert sorted(
        zip(held["source_system"], held["source_ref"], held["check_name"], strict=True)
    ) == sorted((d.system, d.source_ref, d.expected_check) for d in manifest)
    counts = row_counts(postgres_url)
    assert counts["persons"] > 1000
    assert run(postgres_url, legacy_drop).success
    assert row_counts(postgres_url) == counts
