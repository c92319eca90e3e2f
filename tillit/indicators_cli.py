"""``tillit indicators``: the goals leaders steer by and the indicators that measure them."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

indicators_app = typer.Typer(help="Inspect goals and indicators.", no_args_is_help=True)
console = Console()


@indicators_app.command("list")
def list_indicators() -> None:
    """List every goal's indicators with their asset, target, unit, owner and contracts read."""
    from contracts.leaders import all_goals

    table = Table(title="Goals and indicators")
    for column in ("goal", "indicator", "asset", "target", "unit", "owner", "reads"):
        table.add_column(column)
    for goal in all_goals():
        for indicator in goal.indicators:
            sign = "≥" if indicator.target.direction == "at_least" else "≤"
            table.add_row(
                goal.id,
                indicator.id,
                indicator.asset,
                f"{sign} {indicator.target.value:g}",
                indicator.unit.value,
                indicator.owner,
                ", ".join(f"{name} {version}" for name, version in indicator.reads.items()),
            )
    console.print(table)
