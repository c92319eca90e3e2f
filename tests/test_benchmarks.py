"""The benchmarks that need no benchmark-only packages still run against the current code.

Benchmarks measure speed and never fail the suite on a figure; this only checks that they
keep working when the code they call changes (their speed is `make bench`'s business).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from benchmarks.harness import Result
from benchmarks.lineage import build_lineage_store
from benchmarks.pipeline import pipeline_vs_to_sql
from benchmarks.privacy_audit import audit_chain_vs_plain, pseudonymise_vs_hmac


@pytest.mark.parametrize("benchmark", [pseudonymise_vs_hmac, audit_chain_vs_plain])
def test_a_quick_benchmark_measures_both_sides(benchmark: object) -> None:
    result = benchmark(quick=True)  # type: ignore[operator]
    assert isinstance(result, Result)
    assert result.ours and result.ours > 0 and result.baseline and result.baseline > 0
    assert result.ratio is not None and result.meets_target is not None


def test_the_lineage_query_store_is_built_afresh_in_a_kept_work_folder(tmp_path: Path) -> None:
    path = tmp_path / "lineage-query.db"
    first = build_lineage_store(path, shares=200, real_shares=20)
    again = build_lineage_store(path, shares=200, real_shares=20)
    assert again["rows"] == first["rows"]
    assert first["rows"]["lineage_events"] > 200


def _count(database: Path, table: str) -> int:
    conn = sqlite3.connect(database)
    try:
        (count,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    finally:
        conn.close()
    return int(count)


def test_each_pipeline_load_starts_from_an_empty_database(tmp_path: Path) -> None:
    people, counts = 1000, []
    for _ in range(2):  # a kept work folder: the second run finds the first one's databases
        result, store = pipeline_vs_to_sql(tmp_path, people, runs=1)
        assert result.ours and result.baseline and result.ratio is not None
        bare = tmp_path / f"bare-{people}.db"
        counts.append((_count(bare, "population_register"), _count(store, "persons")))
    assert counts[0] == counts[1]  # the second run's rows alone, not appended to the first's
    assert counts[0][0] > 0 and counts[0][1] > 0
