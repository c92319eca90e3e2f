"""The throughput benchmark's harness: both workers of each side start, share the load, and
every request succeeds (its figures are `make bench`'s business, not the suite's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.throughput import WORKERS, broker_throughput

pytestmark = pytest.mark.integration


def test_each_side_runs_on_both_workers_and_every_request_succeeds(
    loaded_store: Path, tmp_path: Path
) -> None:
    result = broker_throughput(loaded_store, tmp_path, quick=True, rounds=1, count=96)

    assert result.extra["failed_requests"] == 0
    assert result.extra["statuses"] == {"ours": {"200": 96}, "bare": {"200": 96}}
    for side in ("ours", "bare"):
        assert result.extra["client_cpu_ms_per_request"][side] > 0
        assert 0 < result.extra["machine_busy"][side] <= 1
    assert result.ours and result.ours > 0 and result.baseline and result.baseline > 0
    for side in ("ours", "bare"):
        (spent,) = result.extra["worker_cpu_seconds"][side]
        # Each worker spent CPU during the load: the connections went to both of them (the
        # bare app does nothing in the background, so its CPU is its requests').
        assert len(spent) == WORKERS and all(seconds > 0 for seconds in spent), (side, spent)
