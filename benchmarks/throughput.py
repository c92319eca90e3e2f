"""Requests per second of the broker under uvicorn against a bare app doing the same read."""

from __future__ import annotations

from pathlib import Path

from benchmarks.harness import Result, not_run
from benchmarks.share import BrokerUnderTest


def broker_throughput(broker: BrokerUnderTest, work: Path, quick: bool) -> Result:
    return not_run(
        "broker_throughput",
        "requests/s, uvicorn 2 workers, separate load-generator process",
        "requests/s",
        "ratio ≥ 0.6",
        "not implemented yet in the benchmark suite; no measurement",
    )
