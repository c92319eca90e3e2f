"""The one benchmark runner: `python -m benchmarks [--quick] [--only NAME,...]` writes results.json
(or, for a partial run, results.only.json) and a table."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.harness import Result, machine, not_run

RESULTS = Path(__file__).with_name("results.json")
PARTIAL = Path(__file__).with_name("results.only.json")


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


NAMES = (
    "policy_vs_casbin_1k",
    "policy_vs_cedar_1k",
    "policy_scaling",
    "policy_tail",
    "pseudonymise_vs_hmac",
    "audit_chain_vs_plain",
    "audit_verify_vs_write",
    "pipeline_vs_to_sql_1m",
    "validation_vs_pandas_1k",
    "validation_vs_pandas_1m",
    "share_overhead_1k",
    "share_overhead_100k",
    "share_stream_memory_1m",
    "broker_throughput",
    "lineage_overhead_slow_backend",
    "lineage_query_1m",
)
NEEDS_STORE = frozenset(NAMES[10:15])


def run_all(
    quick: bool, work: Path, console: Console, only: frozenset[str] | None = None
) -> list[Result]:
    from benchmarks import lineage, pipeline, policy, privacy_audit, share, throughput, validation

    runner = Runner(console)

    def wanted(name: str) -> bool:
        return only is None or name in only

    independent: list[tuple[str, str, Callable[[bool], Result]]] = [
        ("policy_vs_casbin_1k", "ratio ≤ 0.005", policy.policy_vs_casbin),
        ("policy_vs_cedar_1k", "ratio ≤ 0.02", policy.policy_vs_cedar),
        ("policy_scaling", "ratio ≤ 2", policy.policy_scaling),
        ("policy_tail", "ratio ≤ 3", policy.policy_tail),
        ("pseudonymise_vs_hmac", "ratio ≤ 0.65", privacy_audit.pseudonymise_vs_hmac),
        ("audit_chain_vs_plain", "ratio ≥ 0.8", privacy_audit.audit_chain_vs_plain),
        ("audit_verify_vs_write", "ratio ≤ 0.2", privacy_audit.audit_verify_vs_write),
    ]
    for name, target, bench in independent:
        if wanted(name):
            runner.run(name, "", target, functools.partial(bench, quick))

    people = 30_000 if quick else 1_000_000
    stores: list[Path] = []

    def measure_pipeline() -> Result:
        result, store = pipeline.pipeline_vs_to_sql(work, people)
        stores.append(store)
        return result

    if wanted("pipeline_vs_to_sql_1m"):
        runner.run("pipeline_vs_to_sql_1m", "s", "ratio ≤ 2", measure_pipeline)
    elif any(wanted(name) for name in NEEDS_STORE):
        # The share benchmarks need a loaded store; an untimed pipeline run makes one (and a
        # kept --work folder keeps it for the next run).
        stores.append(pipeline.loaded_store(work, people))
    drop = pipeline.legacy_drop(work, people)
    if wanted("validation_vs_pandas_1k"):
        runner.run(
            "validation_vs_pandas_1k",
            "s",
            "ratio ≤ 3",
            lambda: validation.validation_vs_pandas_1k(drop, quick),
        )
    if wanted("validation_vs_pandas_1m"):
        runner.run(
            "validation_vs_pandas_1m",
            "s",
            "ratio ≤ 1.5",
            lambda: validation.validation_vs_pandas_1m(drop, quick),
        )
    targets = {
        "share_overhead_1k": ("ms", "ratio ≤ 1.3"),
        "share_overhead_100k": ("s", "ratio ≤ 1.5"),
        "share_stream_memory_1m": ("MB", "under 300 MB absolute"),
        "broker_throughput": ("requests/s", "ratio ≥ 0.6"),
        "lineage_overhead_slow_backend": ("ms", "ratio ≤ 1.05"),
    }
    store_benchmarks = [name for name in NAMES if name in targets and wanted(name)]
    if stores and store_benchmarks:
        broker = share.prepare_broker(stores[0], work / "broker-1k", keep_persons=100_000)
        whole = share.prepare_broker(stores[0], work / "broker-whole")
        measures: dict[str, Callable[[], Result]] = {
            "share_overhead_1k": lambda: share.share_overhead_1k(broker, quick),
            "share_overhead_100k": lambda: share.share_overhead_100k(broker, quick),
            "share_stream_memory_1m": lambda: share.share_stream_memory(
                whole, work / "broker-whole"
            ),
            "broker_throughput": lambda: throughput.broker_throughput(
                stores[0], work / "broker-throughput", quick
            ),
            "lineage_overhead_slow_backend": lambda: lineage.lineage_overhead_slow_backend(
                broker, quick
            ),
        }
        for name in store_benchmarks:
            runner.run(name, *targets[name], measures[name])
    else:
        note = "no loaded store: the pipeline benchmark failed"
        runner.results += [not_run(name, "", *targets[name], note) for name in store_benchmarks]
    if wanted("lineage_query_1m"):
        runner.run(
            "lineage_query_1m", "ms", "ratio ≤ 3", lambda: lineage.lineage_query_1m(work, quick)
        )
    return runner.results


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


def _names(text: str) -> frozenset[str]:
    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(names - set(NAMES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown benchmark(s): {', '.join(unknown)}")
    return names


def _merged(output: Path, document: dict[str, Any]) -> dict[str, Any]:
    """A partial run's document merged into an earlier partial run of the same mode, by name."""
    try:
        earlier = json.loads(output.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return document
    if earlier.get("mode") != document["mode"]:
        return document
    fresh = {entry["name"]: entry for entry in document["results"]}
    kept = [entry for entry in earlier.get("results", []) if entry["name"] not in fresh]
    entries = {entry["name"]: entry for entry in kept + document["results"]}
    ordered = [entries[name] for name in NAMES if name in entries]
    return document | {"results": ordered, "seconds": None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, same code paths")
    parser.add_argument(
        "--only",
        type=_names,
        help="comma-separated benchmark names; results go to results.only.json (merged by name) "
        "unless --output is given, so results.json only ever holds complete runs",
    )
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--work",
        type=Path,
        help="keep generated drops and stores in this folder and reuse them in the next run",
    )
    args = parser.parse_args(argv)
    output = args.output or (PARTIAL if args.only else RESULTS)
    logging.basicConfig(level=logging.WARNING)
    console = Console(width=150)
    start = time.perf_counter()
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        results = run_all(args.quick, args.work.resolve(), console, args.only)
    else:
        with tempfile.TemporaryDirectory(prefix="tillit-bench-") as folder:
            results = run_all(args.quick, Path(folder), console, args.only)
    elapsed = time.perf_counter() - start
    mode = "quick" if args.quick else "full"
    document: dict[str, Any] = {
        "machine": machine(),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "seconds": round(elapsed, 1),
        "results": [result.as_json() for result in results],
    }
    if args.only:
        document = _merged(output, document)
    output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    console.print(_table(results, f"Tillit benchmarks ({mode}, {elapsed:.0f} s)"))
    console.print(f"wrote {output}")
    return 0
