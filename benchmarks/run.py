"""The one benchmark runner: `python -m benchmarks [--quick]` writes results.json and a table."""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.harness import Result, machine, not_run

RESULTS = Path(__file__).with_name("results.json")
PENDING = [
    not_run(
        "broker_throughput",
        "requests/s, uvicorn 2 workers, separate load-generator process",
        "requests/s",
        "ratio ≥ 0.6",
        "not implemented yet in the benchmark suite (time ran out); no measurement",
    ),
]


class Runner:
    """Runs benchmarks one by one; a failing benchmark is recorded, never raised."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.results: list[Result] = []

    def run(self, name: str, unit: str, target: str, measure: Callable[[], Result]) -> None:
        self.console.log(f"running {name}")
        start = time.perf_counter()
        try:
            result = measure()
        except Exception as error:  # noqa: BLE001 - a broken benchmark is reported, not fatal
            self.console.log(traceback.format_exc())
            result = not_run(name, "", unit, target, f"benchmark failed: {error!r}")
        result.extra.setdefault("seconds", round(time.perf_counter() - start, 1))
        self.results.append(result)


def run_all(quick: bool, work: Path, console: Console) -> list[Result]:
    from benchmarks import lineage, pipeline, policy, privacy_audit, share, validation

    runner = Runner(console)
    for name, target, bench in [
        ("policy_vs_casbin_1k", "ratio ≤ 0.005", policy.policy_vs_casbin),
        ("policy_vs_cedar_1k", "ratio ≤ 0.02", policy.policy_vs_cedar),
        ("policy_scaling", "ratio ≤ 2", policy.policy_scaling),
        ("policy_tail", "ratio ≤ 3", policy.policy_tail),
        ("pseudonymise_vs_hmac", "ratio ≤ 0.65", privacy_audit.pseudonymise_vs_hmac),
        ("audit_chain_vs_plain", "ratio ≥ 0.8", privacy_audit.audit_chain_vs_plain),
        ("audit_verify_vs_write", "ratio ≤ 0.2", privacy_audit.audit_verify_vs_write),
    ]:
        runner.run(name, "", target, lambda bench=bench: bench(quick))

    people = 30_000 if quick else 1_000_000
    stores: list[Path] = []

    def measure_pipeline() -> Result:
        result, store = pipeline.pipeline_vs_to_sql(work, people)
        stores.append(store)
        return result

    runner.run("pipeline_vs_to_sql_1m", "s", "ratio ≤ 2", measure_pipeline)
    drop = pipeline.legacy_drop(work, people)
    runner.run(
        "validation_vs_pandas_1k",
        "s",
        "ratio ≤ 3",
        lambda: validation.validation_vs_pandas_1k(drop, quick),
    )
    runner.run(
        "validation_vs_pandas_1m",
        "s",
        "ratio ≤ 1.5",
        lambda: validation.validation_vs_pandas_1m(drop, quick),
    )
    if stores:
        broker = share.prepare_broker(stores[0], work / "broker-1k", keep_persons=100_000)
        whole = share.prepare_broker(stores[0], work / "broker-whole")
        runner.run(
            "share_overhead_1k", "ms", "ratio ≤ 1.3", lambda: share.share_overhead_1k(broker, quick)
        )
        runner.run(
            "share_overhead_100k",
            "s",
            "ratio ≤ 1.5",
            lambda: share.share_overhead_100k(broker, quick),
        )
        runner.run(
            "share_stream_memory_1m",
            "MB",
            "under 300 MB absolute",
            lambda: share.share_stream_memory(whole, work / "broker-whole"),
        )
        runner.run(
            "lineage_overhead_slow_backend",
            "ms",
            "ratio ≤ 1.05",
            lambda: lineage.lineage_overhead_slow_backend(broker, quick),
        )
    else:
        note = "no loaded store: the pipeline benchmark failed"
        runner.results += [
            not_run("share_overhead_1k", "", "ms", "ratio ≤ 1.3", note),
            not_run("share_overhead_100k", "", "s", "ratio ≤ 1.5", note),
            not_run("share_stream_memory_1m", "", "MB", "under 300 MB absolute", note),
            not_run("lineage_overhead_slow_backend", "", "ms", "ratio ≤ 1.05", note),
        ]
    runner.run("lineage_query_1m", "ms", "ratio ≤ 3", lambda: lineage.lineage_query_1m(work, quick))
    return runner.results + PENDING


def _table(results: list[Result], title: str) -> Table:
    table = Table(title=title)
    for column in ("name", "ours", "baseline", "unit", "ratio", "target", "meets"):
        table.add_column(column, justify="left" if column in ("name", "target") else "right")
    marks = {True: "[green]yes[/]", False: "[red]no[/]", None: "—"}
    for result in results:
        ratio = result.ratio
        table.add_row(
            result.name,
            "—" if result.ours is None else f"{result.ours:.4g}",
            "—" if result.baseline is None else f"{result.baseline:.4g}",
            result.unit,
            "—" if ratio is None else f"{ratio:.3g}",
            result.target,
            marks[result.meets_target],
        )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, same code paths")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    console = Console(width=150)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tillit-bench-") as folder:
        results = run_all(args.quick, Path(folder), console)
    elapsed = time.perf_counter() - start
    document = {
        "machine": machine(),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "seconds": round(elapsed, 1),
        "results": [result.as_json() for result in results],
    }
    args.output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    mode = "quick" if args.quick else "full"
    console.print(_table(results, f"Tillit benchmarks ({mode}, {elapsed:.0f} s)"))
    console.print(f"wrote {args.output}")
    return 0
