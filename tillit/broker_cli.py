"""``tillit dev-token`` and ``tillit broker serve``: run the broker and call it as a partner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

broker_app = typer.Typer(help="Run the sharing broker.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

ConfigDir = Annotated[
    Path, typer.Option(envvar="TILLIT_CONFIG_DIR", help="Broker configuration directory.")
]
Audience = Annotated[str, typer.Option(envvar="TILLIT_AUDIENCE", help="The broker's audience.")]
DEFAULT_AUDIENCE = "https://tillit.lahti.fi/broker"


def _keys_dir(config_dir: Path) -> Path:
    from broker.config.keys import demo_keys_dir

    keys = demo_keys_dir(config_dir)
    if keys is None:
        raise typer.BadParameter("no partner reads its keys from a file", param_hint="--config-dir")
    return keys


def dev_token(
    partner: Annotated[str, typer.Option(help="Partner id from partners.yaml.")],
    subject: Annotated[str | None, typer.Option(help="Token subject (a citizen's code).")] = None,
    config_dir: ConfigDir = Path("config"),
    audience: Audience = DEFAULT_AUDIENCE,
    lifetime: Annotated[int, typer.Option(help="Seconds the token lives (at most 300).")] = 120,
) -> None:
    """Print a fresh single-use access token signed with a demo partner key (never production)."""
    from broker.config.keys import ensure_demo_keys, mint_token
    from broker.config.loader import read_partners

    partners = {p.id: p for p in read_partners(config_dir)}
    if partner not in partners:
        err.print(f"[red]unknown partner {partner!r}; known: {', '.join(sorted(partners))}[/red]")
        raise typer.Exit(code=2)
    keys = ensure_demo_keys(partners.values(), _keys_dir(config_dir))
    who = subject or f"{partner}-caseworker"
    typer.echo(mint_token(partners[partner], keys[partner], audience, who, lifetime))


@broker_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve ``broker.main:app`` with uvicorn (settings from TILLIT_* variables)."""
    from broker.server import serve as serve_broker

    serve_broker(host, port, workers=workers)
