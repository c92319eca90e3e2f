"""The demo's broker part: prove the example requests in-process, print them, then serve."""

from __future__ import annotations

import json
import shlex
from typing import Any

from rich.console import Console
from rich.panel import Panel

from tillit.demo_consent import show_consent_story

BROKER_URL = "http://127.0.0.1:8000"
PERMITTED: dict[str, Any] = {
    "partner": "lahti-education",
    "body": {
        "dataset": "persons",
        "purpose": "ece_placement",
        "legal_basis": "ece_act_540_2018",
        "fields": ["first_names", "birth_date", "district", "move_in_date"],
        "filters": {"district": "Keskusta"},
    },
}
DENIED: dict[str, Any] = {
    "partner": "asikkala",
    "body": {
        "dataset": "ece_placements",
        "purpose": "ece_placement",
        "legal_basis": "ece_act_540_2018",
    },
}


def _curl(example: dict[str, Any]) -> str:
    body = shlex.quote(json.dumps(example["body"], ensure_ascii=False))
    token = f"$(.venv/bin/tillit dev-token --partner {example['partner']})"
    return (
        f"curl -s -X POST '{BROKER_URL}/v1/shares?limit=3' \\\n"
        f'  -H "Authorization: Bearer {token}" \\\n'
        f"  -H 'Content-Type: application/json' -d {body}"
    )


def _try(client: Any, mint: Any, example: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {mint(example['partner'])}"}
    response = client.post("/v1/shares?limit=3", json=example["body"], headers=headers)
    return response.status_code, response.json()


def show_example_requests(console: Console) -> None:
    """Run the permitted and the denied example in-process, and print them as curl commands."""
    from fastapi.testclient import TestClient

    from broker.config.keys import ensure_demo_keys, mint_token
    from broker.config.settings import BrokerSettings
    from broker.main import create_app

    settings = BrokerSettings()
    app = create_app(settings)
    config = app.state.runtime.config
    keys = ensure_demo_keys(config, _keys_dir(settings))

    def mint(partner: str, subject: str | None = None) -> str:
        return mint_token(
            config.partners[partner], keys[partner], settings.audience, subject or partner
        )

    with TestClient(app) as client:
        for title, example in (("permitted", PERMITTED), ("denied", DENIED)):
            status, answer = _try(client, mint, example)
            shown = json.dumps(answer, ensure_ascii=False, indent=2)[:1500]
            console.print(
                Panel(f"{_curl(example)}\n\n→ {status}\n{shown}", title=f"A {title} request")
            )
        show_consent_story(console, app, client, mint)


def _keys_dir(settings: Any) -> Any:
    from tillit.broker_cli import _keys_dir as keys_dir

    return keys_dir(settings.config_dir)


def start_broker(console: Console) -> None:
    """Serve the broker until interrupted."""
    from broker.server import serve

    console.print(f"Broker on {BROKER_URL} — API docs at {BROKER_URL}/docs. Ctrl-C stops it.")
    serve("127.0.0.1", 8000, log_level="warning")


def show_indicators(console: Console, database_url: str) -> None:
    """The city-wide monthly values of every indicator, as the pipeline stored them."""
    import pandas as pd
    import sqlalchemy as sa
    from rich.table import Table

    from contracts.leaders import all_goals
    from contracts.registry import get_contract
    from contracts.store import make_engine, store_table

    engine = make_engine(database_url)
    for goal in all_goals():
        table = Table(title=f"Goal: {goal.statement['en']}")
        table.add_column("month")
        for indicator in goal.indicators:
            table.add_column(indicator.title["en"], justify="right")
        frames = {}
        with engine.connect() as conn:
            for asset in dict.fromkeys(i.asset for i in goal.indicators):
                stored = store_table(get_contract(asset))
                query = sa.select(stored).where(
                    stored.c.district == "Total", stored.c.segment == "Total"
                )
                frames[asset] = pd.read_sql(query, conn).set_index("month").sort_index()
        months = sorted({m for frame in frames.values() for m in frame.index})
        for month in months:
            cells = []
            for indicator in goal.indicators:
                row = frames[indicator.asset].loc[month]
                denominator = row[indicator.denominator] if indicator.denominator else None
                value = indicator.value(
                    None if pd.isna(row[indicator.numerator]) else int(row[indicator.numerator]),
                    None if denominator is None or pd.isna(denominator) else int(denominator),
                )
                unit = " %" if indicator.denominator else ""
                cells.append("suppressed" if value is None else f"{value:g}{unit}")
            table.add_row(month + (" (provisional)" if row["provisional"] else ""), *cells)
        console.print(table)
    engine.dispose()
    console.print(
        f"Indicators for leaders: {BROKER_URL}/indicators — sign in with the code from "
        "`.venv/bin/tillit dev-token --partner lahti-analytics`."
    )
