"""The pipeline from legacy files through contracts into the store, against read + to_sql."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg

from benchmarks.harness import Result
from contracts.store import make_engine
from orchestration.legacy import READERS, generate_legacy
from orchestration.run import run_pipeline
from tillit.migrations import upgrade


def legacy_drop(work: Path, people: int) -> Path:
    """A generated legacy drop of `people` people (seed 7), made once per run."""
    folder = work / f"legacy-{people}"
    if not (folder / "drop.json").exists():
        generate_legacy(folder, people=people, seed=7)
    return folder


def run_ours(work: Path, legacy_dir: Path, label: str) -> tuple[float, Path]:
    store = work / f"store-{label}.db"
    engine = make_engine(f"sqlite:///{store}")
    upgrade(engine)  # as `tillit db upgrade` before a deployment, outside the timing
    engine.dispose()
    start = time.perf_counter()
    result = run_pipeline(
        f"sqlite:///{store}",
        str(legacy_dir),
        instance=dg.DagsterInstance.ephemeral(),
        log_level="ERROR",
    )
    elapsed = time.perf_counter() - start
    if not result.success:
        raise RuntimeError("the pipeline run failed")
    return elapsed, store


def run_bare(work: Path, legacy_dir: Path, label: str) -> float:
    """Every legacy system read with the same readers and appended with DataFrame.to_sql."""
    engine = make_engine(f"sqlite:///{work / f'bare-{label}.db'}")
    start = time.perf_counter()
    for system, reader in READERS.items():
        for frame in reader(legacy_dir, 50_000):
            frame.to_sql(system, engine, if_exists="append", index=False, chunksize=10_000)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def pipeline_vs_to_sql(work: Path, people: int) -> tuple[Result, Path]:
    """One timed run each after a warm-up on a small drop; returns the loaded store too."""
    small = legacy_drop(work, 1000)
    run_ours(work, small, "warmup")
    run_bare(work, small, "warmup")
    drop = legacy_drop(work, people)
    ours, store = run_ours(work, drop, str(people))
    bare = run_bare(work, drop, str(people))
    result = Result(
        "pipeline_vs_to_sql_1m",
        f"{people:,} people (four legacy systems) into SQLite: Dagster pipeline with contract "
        "validation, quarantine and checks vs the same readers + DataFrame.to_sql; "
        "one timed run each after a warm-up",
        ours,
        bare,
        "s",
        "ratio ≤ 2",
        limit=2,
    )
    return result, store


def loaded_store(work: Path, people: int) -> Path:
    """A store loaded by one untimed pipeline run, reused when the work folder already has it."""
    store = work / f"store-{people}.db"
    if store.exists():
        return store
    return run_ours(work, legacy_drop(work, people), str(people))[1]
