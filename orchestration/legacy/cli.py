"""Command line for the legacy source systems: `tillit legacy generate`."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestration.legacy.drop import SYSTEMS, DropInfo, iter_manifest
from orchestration.legacy.generator import generate_legacy
from orchestration.legacy.readers import count_source_rows

legacy_app = typer.Typer(help="Synthetic legacy source systems of the Lahti example.")
console = Console()


@legacy_app.callback()
def legacy() -> None:
    """Generate and inspect synthetic legacy extracts."""


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from error


def _size(num_bytes: int) -> str:
    size = float(num_bytes)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.2f} GiB"


def summary_tables(out_dir: Path, info: DropInfo) -> tuple[Table, Table]:
    """Tables of the drop's files (size, rows, defects) and of defects by kind and system."""
    rows = count_source_rows(out_dir)
    defects = Counter((d.system, d.expected_check) for d in iter_manifest(out_dir))
    files = Table(title=f"Legacy drop {info.drop_id} (as of {info.as_of}, {info.people:,} people)")
    for column in ("System", "File"):
        files.add_column(column, no_wrap=True)
    for column in ("Size", "Rows", "Defects", "Rate"):
        files.add_column(column, justify="right")
    for system in SYSTEMS:
        path = out_dir / info.files[system]
        injected = sum(n for (s, _), n in defects.items() if s == system)
        rate = f"{injected / rows[system]:.2%}" if rows[system] else "-"
        files.add_row(system, path.name, _size(path.stat().st_size), f"{rows[system]:,}",
                      f"{injected:,}", rate)  # fmt: skip
    kinds = Table(title="Injected defects by expected check")
    kinds.add_column("Check", no_wrap=True)
    for system in SYSTEMS:
        kinds.add_column(system.replace("_", " "), justify="right")
    for check in sorted({c for _, c in defects}):
        kinds.add_row(check, *(str(defects.get((s, check), "")) for s in SYSTEMS))
    return files, kinds


@legacy_app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the drop to.")],
    people: Annotated[int, typer.Option("--people", min=1, help="Number of residents.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same bytes.")] = 7,
    defect_rate: Annotated[
        float, typer.Option("--defect-rate", min=0.0, max=1.0, help="Share of rows with a defect.")
    ] = 0.02,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Extract date YYYY-MM-DD (default today).")
    ] = None,
) -> None:
    """Generate the four legacy extracts with injected defects and a manifest."""
    generate_with_progress(
        out, people=people, seed=seed, defect_rate=defect_rate, as_of=_parse_date(as_of)
    )


def generate_with_progress(
    out: Path,
    *,
    people: int = 10_000,
    seed: int = 7,
    defect_rate: float = 0.02,
    as_of: date | None = None,
) -> DropInfo:
    """Generate a drop behind a rich progress bar, then print its summary tables."""
    started = time.perf_counter()
    columns = (
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("Generating people", total=people)
        info = generate_legacy(
            out, people=people, seed=seed, defect_rate=defect_rate, as_of=as_of,
            progress=lambda n: bar.advance(task, n),
        )  # fmt: skip
    elapsed = time.perf_counter() - started
    for table in summary_tables(out, info):
        console.print(table)
    console.print(f"Wrote {out} in {elapsed:.1f} s (drop.json, manifest.jsonl).")
    return info
