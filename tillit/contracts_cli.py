"""``tillit contracts``: what each dataset is, who owns it and how its fields are classified."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

contracts_app = typer.Typer(help="Inspect the data contracts.", no_args_is_help=True)
console = Console()


@contracts_app.command("list")
def list_contracts() -> None:
    """List every contract with its version, owner, classification and legal basis."""
    from contracts.registry import all_contracts

    table = Table(title="Data contracts")
    for column in ("name", "version", "owner", "source system", "classification", "legal basis"):
        table.add_column(column)
    for contract in all_contracts():
        table.add_row(
            contract.name,
            contract.version,
            contract.owner,
            contract.source_system,
            contract.classification.value,
            contract.legal_basis,
        )
    console.print(table)


@contracts_app.command("show")
def show_contract(name: str) -> None:
    """Show one contract's governance and its fields."""
    from contracts.errors import ContractError
    from contracts.registry import get_contract

    try:
        contract = get_contract(name)
    except ContractError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from error
    console.print(f"[bold]{contract.name}[/bold] {contract.version} — {contract.description}")
    console.print(
        f"owner {contract.owner} · source {contract.source_system} · purposes "
        f"{', '.join(contract.purposes)} · legal basis {contract.legal_basis} · "
        f"retention {contract.retention}"
    )
    table = Table()
    for column in ("field", "type", "classification", "identifier", "source", "description"):
        table.add_column(column)
    for spec in contract.fields:
        table.add_row(
            spec.name,
            spec.dtype + ("?" if spec.nullable else ""),
            spec.classification.value,
            spec.identifier.value,
            spec.source,
            spec.description,
        )
    console.print(table)


@contracts_app.command("lint")
def lint() -> None:
    """Check every contract against the governance rules; non-zero exit on any violation."""
    from contracts.lint import lint_contracts

    violations = lint_contracts()
    for violation in violations:
        console.print(f"[red]✗[/red] {violation}")
    if violations:
        console.print(f"{len(violations)} governance violation(s)")
        raise typer.Exit(code=1)
    console.print("[green]✓[/green] every contract meets the governance rules")


@contracts_app.command("export")
def export(
    name: str,
    format: Annotated[str, typer.Option("--format", help="odcs, dcat-ap or json-schema")] = "odcs",
) -> None:
    """Export a contract as ODCS v3 YAML, DCAT-AP JSON-LD or JSON Schema (on standard output)."""
    import json

    import yaml

    from contracts.errors import ContractError
    from contracts.export import FORMATS
    from contracts.registry import get_contract

    if format not in FORMATS:
        console.print(f"[red]unknown format {format!r}; choose one of {', '.join(FORMATS)}[/red]")
        raise typer.Exit(code=2)
    try:
        document = FORMATS[format](get_contract(name))
    except ContractError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from error
    if format == "odcs":
        typer.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    else:
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


@contracts_app.command("diff")
def diff(
    base: Annotated[str, typer.Option("--base", help="Git ref to compare with, e.g. main~1")],
) -> None:
    """What changed in each contract since BASE, breaking or not, and whether the version bump
    matches (major for breaking, minor for additive, patch for documentation)."""
    import subprocess
    from pathlib import Path

    from contracts.diff import (
        actual_bump,
        bump_matches,
        compare,
        contracts_at,
        current_contracts,
        required_bump,
    )

    try:
        old = contracts_at(base, Path.cwd())
    except subprocess.CalledProcessError as error:
        console.print(f"[red]cannot read the contracts at {base!r}: {error.stderr!s}[/red]")
        raise typer.Exit(code=2) from error
    new = current_contracts()
    table = Table(title=f"Contract changes since {base}")
    for column in ("contract", "field", "change", "level"):
        table.add_column(column)
    mismatches = []
    for name, now in new.items():
        if name not in old:
            table.add_row(name, "", "new contract", "minor")
            continue
        changes = compare(old[name], now)
        for change in changes:
            table.add_row(name, change.field or "", change.what, change.level)
        needed, done = required_bump(changes), actual_bump(old[name]["version"], now["version"])
        if not bump_matches(needed, done):
            mismatches.append(
                f"{name}: {old[name]['version']} → {now['version']} but the changes need a "
                f"{needed} bump"
            )
    for name in old.keys() - new.keys():
        table.add_row(name, "", "contract removed", "major")
    console.print(table)
    for mismatch in mismatches:
        console.print(f"[red]✗ {mismatch}[/red]")
    if mismatches:
        raise typer.Exit(code=1)
    console.print("[green]✓[/green] every version bump matches its changes")
