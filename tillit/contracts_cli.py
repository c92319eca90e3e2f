"""``tillit contracts``: what each dataset is, who owns it and how its fields are classified."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from contracts.errors import ContractError
from contracts.registry import all_contracts, get_contract

contracts_app = typer.Typer(help="Inspect the data contracts.", no_args_is_help=True)
console = Console()


@contracts_app.command("list")
def list_contracts() -> None:
    """List every contract with its version, owner, classification and legal basis."""
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
