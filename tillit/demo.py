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
    import uvicorn

    console.print(f"Broker on {BROKER_URL} — API docs at {BROKER_URL}/docs. Ctrl-C stops it.")
    uvicorn.run("broker.main:app", host="127.0.0.1", port=8000, log_level="warning")
