"""Timing helpers and the result record every benchmark returns."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Direction = Literal["lower", "higher"]


@dataclass
class Result:
    """One line of results.json: ours against the baseline on the same workload."""

    name: str
    workload: str
    ours: float | None
    baseline: float | None
    unit: str
    target: str
    # "lower": ratio = ours / baseline must be <= limit; "higher": ratio >= limit.
    direction: Direction = "lower"
    limit: float | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.baseline in (None, 0):
            return None
        return self.ours / self.baseline

    @property
    def meets_target(self) -> bool | None:
        ratio = self.ratio if self.baseline is not None else self.ours
        if ratio is None or self.limit is None:
            return None
        return ratio <= self.limit if self.direction == "lower" else ratio >= self.limit

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for private in ("direction", "limit", "extra"):
            data.pop(private)
        ratio = self.ratio
        data["ratio"] = None if ratio is None else round(ratio, 6)
        data["meets_target"] = self.meets_target
        data.update(self.extra)
        if data["note"] is None:
            del data["note"]
        order = ["name", "workload", "ours", "baseline", "unit", "ratio", "target", "meets_target"]
        return {key: data[key] for key in order} | {
            key: value for key, value in data.items() if key not in order
        }


def not_run(name: str, workload: str, unit: str, target: str, note: str) -> Result:
    """An entry for a benchmark that could not be measured, saying why."""
    return Result(name, workload, None, None, unit, target, note=note)


def median_seconds(run: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    """Median wall time of `repeat` runs after `warmup` runs that are not counted."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_medians(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    repeat: int,
    warmup: int = 1,
    settle: Callable[[], object] | None = None,
) -> tuple[float, float]:
    """Median wall times of ours and the baseline, run alternately so that a change in the
    machine's load during the measurement falls on both sides of the ratio alike.

    ``settle``, untimed before each sample: waits for the background work a sample leaves
    behind, so that no sample shares the machine with the one before it."""
    for _ in range(warmup):
        ours()
        baseline()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for run, samples in ((ours, times[0]), (baseline, times[1])):
            if settle is not None:
                settle()
            gc.collect()
            start = time.perf_counter()
            run()
            samples.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of samples (fraction in 0..1)."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[rank]


def per_call_seconds(call: Callable[[Any], object], inputs: list[Any], rounds: int) -> list[float]:
    """Latency of each call over `rounds` passes through `inputs` (first pass is warm-up)."""
    timer = time.perf_counter_ns
    for item in inputs:
        call(item)
    samples: list[float] = []
    gc.disable()
    try:
        for _ in range(rounds):
            for item in inputs:
                start = timer()
                call(item)
                samples.append((timer() - start) / 1e9)
    finally:
        gc.enable()
    return samples


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
