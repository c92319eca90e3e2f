"""The ``tillit`` command: contracts, legacy data, the pipeline, the store's schema and the demo."""

from __future__ import annotations

import typer

from tillit.broker_cli import broker_app, dev_token
from tillit.contracts_cli import contracts_app
from tillit.db_cli import db_app
from tillit.governance_cli import agreements_app, policy_app
from tillit.indicators_cli import indicators_app
from tillit.lineage_cli import lineage_app
from tillit.pipeline_cli import demo, pipeline_app

app = typer.Typer(
    name="tillit",
    help="Tillit: lawful, accountable data sharing for Nordic public bodies.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(contracts_app, name="contracts")
app.add_typer(pipeline_app, name="pipeline")
app.command("demo")(demo)
app.add_typer(broker_app, name="broker")
app.command("dev-token")(dev_token)
app.add_typer(agreements_app, name="agreements")
app.add_typer(policy_app, name="policy")
app.add_typer(lineage_app, name="lineage")
app.add_typer(db_app, name="db")
app.add_typer(indicators_app, name="indicators")


def _add_subcommands() -> None:
    from broker.audit.cli import audit_app
    from orchestration.legacy.cli import legacy_app

    app.add_typer(legacy_app, name="legacy", help="Synthetic legacy systems.")
    app.add_typer(audit_app, name="audit", help="Verify the audit log.")


_add_subcommands()


def main() -> None:
    """Console-script entry point."""
    app()
