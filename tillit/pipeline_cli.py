"""``tillit pipeline run`` and ``tillit demo``: load the legacy drop and show what landed."""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts.store import dataset_loads, make_engine, quarantine

pipeline_app = typer.Typer(help="Run the Dagster pipeline in-process.", no_args_is_help=True)
console = Console()

DatabaseUrl = Annotated[str, typer.Option(envvar="TILLIT_DATABASE_URL", help="Sharing store URL.")]
LegacyDir = Annotated[
    Path, typer.Option(envvar="TILLIT_LEGACY_DIR", help="Directory of the legacy drop.")
]


def _summary(database_url: str, run_id: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        loads = conn.execute(
            sa.select(dataset_loads)
            .where(dataset_loads.c.run_id == run_id)
            .order_by(dataset_loads.c.id)
        ).all()
        reasons = conn.execute(
            sa.select(quarantine.c.dataset, quarantine.c.check_name, sa.func.count())
            .where(quarantine.c.run_id == run_id)
            .group_by(quarantine.c.dataset, quarantine.c.check_name)
            .order_by(quarantine.c.dataset, sa.func.count().desc())
        ).all()
    landed = Table(title="What landed in the sharing store")
    for column in ("dataset", "rows in", "loaded", "quarantined"):
        landed.add_column(column, justify="left" if column == "dataset" else "right")
    for load in loads:
        landed.add_row(
            load.dataset, f"{load.rows_in:,}", f"{load.rows_loaded:,}", f"{load.rows_quarantined:,}"
        )
    console.print(landed)
    held = Table(title="What was quarantined, and why")
    for column in ("dataset", "check", "rows"):
        held.add_column(column)
    for dataset, check, count in reasons:
        held.add_row(dataset, check, f"{count:,}")
    console.print(held)


def _follow(database_url: str, started: datetime, running: Future[Any]) -> None:
    """A progress bar of datasets landed, read from the store's load log while the run goes."""
    from contracts.registry import all_contracts

    engine = make_engine(database_url)
    total = len(all_contracts())
    query = sa.select(sa.func.count()).where(dataset_loads.c.loaded_at >= started)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("Loading datasets through their contracts", total=total)
        while not running.done():
            try:
                with engine.connect() as conn:
                    progress.update(task, completed=min(conn.execute(query).scalar_one(), total))
            except sa.exc.SQLAlchemyError:
                pass  # the store is created by the run itself; keep waiting
            running_wait(running, 0.5)
        progress.update(task, completed=total if running.exception() is None else None)
    engine.dispose()


def running_wait(running: Future[Any], seconds: float) -> None:
    """Wait for the run to finish, at most ``seconds`` (its outcome is read afterwards)."""
    wait([running], timeout=seconds)


def _require_migrated(database_url: str) -> None:
    """Stop with the reason before a run that every step would fail the same way."""
    from contracts.schema_revision import SchemaNotCurrentError, require_current_schema

    engine = make_engine(database_url)
    try:
        require_current_schema(engine)
    except SchemaNotCurrentError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=1) from error
    finally:
        engine.dispose()


def _migrate(database_url: str) -> None:
    from tillit.migrations import AdoptionError, upgrade

    engine = make_engine(database_url)
    try:
        result = upgrade(engine)
    except AdoptionError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=1) from error
    finally:
        engine.dispose()
    if result.before != result.after:
        console.print(f"Migrated the store's schema to revision {result.after}.")


def run_and_report(database_url: str, legacy_dir: Path) -> bool:
    """Run the pipeline with a progress bar and print what landed; True on success."""
    import dagster as dg

    from orchestration.run import run_pipeline

    _require_migrated(database_url)
    instance = None
    if home := os.environ.get("DAGSTER_HOME"):
        # Runs go to the same history `make ui` shows; a fresh checkout has no folder yet.
        Path(home).mkdir(parents=True, exist_ok=True)
        instance = dg.DagsterInstance.get()
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = datetime.now(UTC)
        running = pool.submit(
            run_pipeline, database_url, str(legacy_dir), instance=instance, log_level="WARNING"
        )
        _follow(database_url, started, running)
        result = running.result()
    _summary(database_url, result.run_id)
    failed = [event.step_key for event in result.get_step_failure_events()]
    evaluations = result.get_asset_check_evaluations()
    checks = [e for e in evaluations if not e.passed]
    console.print(f"{len(evaluations) - len(checks)} of {len(evaluations)} asset checks passed.")
    for evaluation in checks:
        console.print(
            f"[red]check failed:[/red] {evaluation.asset_key.to_user_string()} "
            f"{evaluation.check_name}"
        )
    if failed:
        console.print(f"[red]failed steps:[/red] {', '.join(str(s) for s in failed)}")
    return result.success and not checks


@pipeline_app.command("run")
def run(
    database_url: DatabaseUrl = "sqlite:///var/tillit.db",
    legacy_dir: LegacyDir = Path("var/legacy"),
) -> None:
    """Materialize every asset and check against the legacy drop in ``legacy_dir``."""
    if not run_and_report(database_url, legacy_dir):
        raise typer.Exit(code=1)


def demo(
    people: Annotated[int, typer.Option(help="People in the synthetic population.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 7,
    database_url: DatabaseUrl = "sqlite:///var/tillit.db",
    legacy_dir: LegacyDir = Path("var/legacy"),
    serve: Annotated[bool, typer.Option(help="Start the broker on 127.0.0.1:8000 after.")] = True,
) -> None:
    """Generate the legacy systems, migrate the store, run the pipeline, show what landed, then
    serve the broker."""
    from orchestration.legacy.cli import generate_with_progress
    from tillit.demo import show_example_requests, show_indicators, start_broker

    generate_with_progress(legacy_dir, people=people, seed=seed, defect_rate=0.02)
    _migrate(database_url)  # what `tillit db upgrade` does before a release is rolled out
    if not run_and_report(database_url, legacy_dir):
        raise typer.Exit(code=1)
    show_indicators(console, database_url)
    os.environ.setdefault("TILLIT_DEMO_MODE", "true")
    os.environ["TILLIT_DATABASE_URL"] = database_url
    show_example_requests(console)
    if serve:
        start_broker(console)
