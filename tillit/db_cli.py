"""``tillit db``: migrate Tillit's own tables (Alembic scripts shipped in ``tillit.migrations``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

db_app = typer.Typer(help="Migrate the store's schema.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DatabaseUrl = Annotated[
    str,
    typer.Option("--database-url", envvar="TILLIT_DATABASE_URL", help="Sharing store URL."),
]
DEFAULT_URL = "sqlite:///var/tillit.db"


def _describe(revision: str | None) -> str:
    return revision or "none (no Tillit schema)"


@db_app.command("upgrade")
def upgrade(
    database_url: DatabaseUrl = DEFAULT_URL,
    revision: Annotated[str, typer.Option(help="Revision to migrate to.")] = "head",
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the SQL from an empty database; change nothing.")
    ] = False,
) -> None:
    """Migrate up to REVISION (run before rolling out a release); a no-op when already there."""
    from contracts.store import make_engine
    from tillit.migrations import AdoptionError, upgrade_sql
    from tillit.migrations import upgrade as run_upgrade

    if sql:
        typer.echo(upgrade_sql(database_url, revision))
        return
    engine = make_engine(database_url)
    try:
        result = run_upgrade(engine, revision)
    except AdoptionError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(code=1) from error
    finally:
        engine.dispose()
    if result.adopted:
        console.print("Adopted tables created before migrations at the baseline revision.")
    if result.before == result.after:
        console.print(f"Already at revision {_describe(result.after)}; nothing to do.")
    else:
        console.print(
            f"Migrated from revision {_describe(result.before)} to {_describe(result.after)}."
        )


@db_app.command("current")
def current(database_url: DatabaseUrl = DEFAULT_URL) -> None:
    """Show the database's revision and this release's; exit 1 if the database is behind."""
    from contracts.store import make_engine
    from tillit.migrations import current as current_revision
    from tillit.migrations import head, revisions

    engine = make_engine(database_url)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    needed = head()
    console.print(f"database: {_describe(revision)}")
    console.print(f"release:  {needed}")
    if revision == needed:
        console.print("[green]up to date[/green]")
    elif revision is not None and revision not in revisions():
        console.print("[yellow]newer than this release (migrated by a later release)[/yellow]")
    else:
        console.print("[red]behind: run `tillit db upgrade`[/red]")
        raise typer.Exit(code=1)


@db_app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="Revision to go back to; `base` drops all.")],
    database_url: DatabaseUrl = DEFAULT_URL,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Migrate down to REVISION; ``base`` drops every Tillit table and the data in it."""
    from contracts.store import make_engine
    from tillit.migrations import downgrade as run_downgrade

    if not yes:
        typer.confirm(f"Downgrade to {revision}, dropping what later revisions added?", abort=True)
    engine = make_engine(database_url)
    try:
        result = run_downgrade(engine, revision)
    finally:
        engine.dispose()
    console.print(
        f"Migrated from revision {_describe(result.before)} to {_describe(result.after)}."
    )
