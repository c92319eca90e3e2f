"""``tillit audit``: verify the audit chain and its signed checkpoints from the command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table

from broker.audit.checkpoints import load_verify_key
from broker.audit.tables import audit_log
from broker.audit.verify import (
    PARALLEL_FROM,
    VerifyReport,
    check_anchor,
    verify_chain_parallel,
)
from contracts.store import make_engine

audit_app = typer.Typer(help="Check the tamper-evident audit log.", no_args_is_help=True)
console = Console()

DatabaseUrl = Annotated[
    str,
    typer.Option("--database-url", envvar="TILLIT_DATABASE_URL", help="Sharing store URL."),
]
PublicKeyPath = Annotated[
    Path | None,
    typer.Option(
        "--checkpoint-public-key",
        envvar="TILLIT_CHECKPOINT_KEY_FILE",
        exists=True,
        dir_okay=False,
        readable=True,
        help="Ed25519 PEM key to verify checkpoint signatures with (public or private).",
    ),
]
Anchor = Annotated[
    str | None,
    typer.Option(
        "--anchor",
        help="SEQ:HASH of a head exported earlier (e.g. a checkpoint kept outside the "
        "database); reveals records cut off after the last checkpoint the database still has.",
    ),
]

DEFAULT_JOBS = min(os.cpu_count() or 1, 8)
Jobs = Annotated[
    int,
    typer.Option(
        "--jobs",
        min=1,
        help=f"Processes verifying stretches of the chain side by side (from "
        f"{PARALLEL_FROM:,} records; shorter chains are verified in one).",
    ),
]


@audit_app.callback()
def audit() -> None:
    """Check the tamper-evident audit log."""


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code=2)


def _parse_anchor(anchor: str) -> tuple[int, str]:
    seq, _, head_hash = anchor.partition(":")
    if not seq.isdigit() or int(seq) < 1 or len(head_hash) != 64:
        raise _fail("--anchor must be SEQ:HASH, a record number and its 64-digit hash")
    return int(seq), head_hash.lower()


def _summary(report: VerifyReport, signatures: bool) -> Table:
    table = Table(title="Audit chain", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("records", str(report.length))
    table.add_row("head hash", report.head_hash)
    signed = "signatures verified" if signatures else "signatures not checked (no key given)"
    table.add_row("checkpoints", f"{report.checkpoints_checked} checked, {signed}")
    status = (
        "[green]intact[/green]"
        if report.ok
        else f"[red]BROKEN at record {report.first_broken_seq}[/red]"
    )
    table.add_row("status", status)
    return table


@audit_app.command("verify")
def verify(
    database_url: DatabaseUrl = "sqlite:///var/tillit.db",
    checkpoint_public_key: PublicKeyPath = None,
    anchor: Anchor = None,
    jobs: Jobs = DEFAULT_JOBS,
) -> None:
    """Recompute every record's hash and link, check the checkpoints; non-zero exit if broken."""
    anchored = _parse_anchor(anchor) if anchor else None
    url = sa.engine.make_url(database_url)
    # Connecting would create an empty SQLite file; a typo must not verify as an empty chain.
    on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if on_disk and not Path(str(url.database)).exists():
        raise _fail(f"no database at {url.database}")
    try:
        public_key = load_verify_key(checkpoint_public_key) if checkpoint_public_key else None
    except ValueError as error:
        raise _fail(f"cannot use the checkpoint key: {error}") from error
    engine = make_engine(database_url)
    try:
        if not sa.inspect(engine).has_table(audit_log.name):
            raise _fail("this database has no audit log")
        report = verify_chain_parallel(database_url, public_key, jobs=jobs)
        if anchored is not None:
            with engine.connect() as conn:
                report = check_anchor(conn, report, *anchored)
    except sa.exc.SQLAlchemyError as error:
        raise _fail(f"cannot read the audit log: {error.__class__.__name__}") from error
    finally:
        engine.dispose()
    console.print(_summary(report, signatures=public_key is not None))
    if not report.ok:
        console.print(f"[red]{report.problem}[/red]")
        raise typer.Exit(code=1)
