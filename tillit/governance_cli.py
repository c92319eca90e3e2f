"""``tillit agreements check`` and ``tillit policy explain``: what an agreement releases, and why
a request would be permitted or denied, without releasing any data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

agreements_app = typer.Typer(help="Data-sharing agreements.", no_args_is_help=True)
policy_app = typer.Typer(help="Ask the policy engine.", no_args_is_help=True)
console = Console()
ConfigDir = Annotated[
    Path, typer.Option(envvar="TILLIT_CONFIG_DIR", help="Broker configuration directory.")
]


def _load(config_dir: Path):  # type: ignore[no-untyped-def]
    from broker.config.datasets import dataset_infos_from_contracts
    from broker.config.loader import load_config
    from broker.errors import ConfigurationError
    from contracts.registry import all_contracts

    try:
        return load_config(config_dir, dataset_infos_from_contracts(all_contracts()))
    except ConfigurationError as error:
        console.print(f"[red]✗ {error.detail}[/red]")
        raise typer.Exit(code=1) from error


@agreements_app.command("check")
def check(config_dir: ConfigDir = Path("config")) -> None:
    """Validate the configuration and show what each agreement releases, per purpose."""
    from broker.policy.engine import evaluate
    from broker.policy.index import AgreementIndex
    from broker.policy.model import ShareRequest

    config = _load(config_dir)
    index = AgreementIndex.build(config.agreements)
    today = datetime.now(ZoneInfo("Europe/Helsinki"))
    table = Table(title=f"{len(config.agreements)} agreements in {config_dir}")
    for column in ("agreement", "partner → dataset", "purpose", "in force", "releases"):
        table.add_column(column)
    for agreement in config.agreements:
        for purpose in agreement.purposes:
            request = ShareRequest(
                agreement.partner, agreement.dataset, purpose, agreement.legal_basis
            )
            decision = evaluate(
                request,
                index,
                config.purposes,
                config.datasets,
                max(today, _start(agreement.valid_from)),
            )
            ob = decision.obligations
            released = (
                ", ".join(f"{f}:{ob.transforms[f]}" for f in ob.fields_released)
                if ob
                else (decision.reason_code or "denied")
            )
            table.add_row(
                f"{agreement.id} {agreement.version}",
                f"{agreement.partner} → {agreement.dataset}",
                purpose,
                "yes" if agreement.in_force(today.date()) else "no",
                released,
            )
    console.print(table)
    console.print("[green]✓[/green] configuration is valid")


def _start(day: object) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+02:00")


@policy_app.command("explain")
def explain(
    partner: Annotated[str, typer.Option(help="Partner id.")],
    dataset: Annotated[str, typer.Option(help="Dataset name.")],
    purpose: Annotated[str, typer.Option(help="Purpose id.")],
    legal_basis: Annotated[str, typer.Option("--legal-basis", help="Legal basis id.")],
    fields: Annotated[list[str] | None, typer.Option("--fields", help="Fields wanted.")] = None,
    config_dir: ConfigDir = Path("config"),
) -> None:
    """Print the decision for a request with its reasons, fields and transforms."""
    from broker.policy.engine import evaluate
    from broker.policy.index import AgreementIndex
    from broker.policy.model import ShareRequest

    config = _load(config_dir)
    request = ShareRequest(
        partner, dataset, purpose, legal_basis, tuple(fields) if fields else None
    )
    decision = evaluate(
        request,
        AgreementIndex.build(config.agreements),
        config.purposes,
        config.datasets,
        datetime.now(ZoneInfo("Europe/Helsinki")),
    )
    verdict = "[green]PERMIT[/green]" if decision.allowed else "[red]DENY[/red]"
    console.print(f"{verdict} {partner} → {dataset} for {purpose} on {legal_basis}")
    for reason in decision.reasons:
        console.print(f"  {reason.code}: {reason.detail}")
    for ref in decision.matched_agreements:
        console.print(f"  agreement {ref.id} {ref.version}")
    ob = decision.obligations
    if ob is not None:
        console.print(
            f"  released: {', '.join(f'{f} ({ob.transforms[f]})' for f in ob.fields_released)}"
        )
        for withheld in ob.withheld:
            console.print(f"  withheld: {withheld.field} ({withheld.reason})")
        if ob.aggregate_only:
            console.print(f"  aggregate only, cells under {ob.min_cell_size} suppressed")
    if not decision.allowed:
        raise typer.Exit(code=3)
