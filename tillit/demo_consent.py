"""The demo's consent story: a family that moved into Lahti lets the school see its child's
early childhood education data, and takes the permission back."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.panel import Panel

SCHOOL = "lahti-education"
PORTAL = "suomi-citizen-portal"
SCHOOL_START: dict[str, Any] = {
    "dataset": "ece_placements",
    "purpose": "school_start_support",
    "legal_basis": "consent",
    "fields": ["child_id", "unit_name", "start_date", "status"],
}
Mint = Callable[[str, str | None], str]


def _child_who_moved_in(app: Any) -> str | None:
    """A child in Lahti with a daycare place whose family moved in from elsewhere."""
    runtime = app.state.runtime
    query = sa.text(
        "SELECT p.person_id FROM persons p JOIN ece_placements e ON e.child_id = p.person_id "
        "WHERE p.municipality_code = '398' AND p.previous_municipality_code IS NOT NULL "
        "ORDER BY p.move_in_date DESC, p.person_id LIMIT 1"
    )
    with runtime.engine.connect() as conn:
        code = conn.execute(query).scalar()
    return str(code) if code is not None else None


def _shown(answer: Any) -> str:
    """The part of an answer the story is about: released rows, or what a download held."""
    document = answer.json()
    if "rows" in document:
        keys = ("agreement_id", "legal_basis", "fields", "row_count", "audit_seq", "rows")
        document = {key: document[key] for key in keys}
    elif "datasets" in document:
        document = [
            {
                "dataset": item["dataset"],
                "row_count": item["row_count"],
                "fields": [spec["name"] for spec in item["fields"]],
                "withheld_fields": item["withheld_fields"],
                "audit_seq": item["audit_seq"],
            }
            for item in document["datasets"]
        ]
    return json.dumps(document, ensure_ascii=False, indent=2)[:1200]


def _step(console: Console, title: str, command: str, answer: Any) -> None:
    console.print(Panel(f"{command}\n\n→ {answer.status_code}\n{_shown(answer)}", title=title))


def _token(partner: str, subject: str | None = None) -> str:
    extra = f" --subject {subject}" if subject else ""
    return f"$(.venv/bin/tillit dev-token --partner {partner}{extra})"


def _school_asks(client: Any, mint: Mint) -> Any:
    headers = {"Authorization": f"Bearer {mint(SCHOOL, None)}"}
    return client.post("/v1/shares?limit=10", json=SCHOOL_START, headers=headers)


def show_consent_story(console: Console, app: Any, client: Any, mint: Mint) -> None:
    """Run the consent example against the in-process broker and print each step."""
    child = _child_who_moved_in(app)
    if child is None:
        console.print("No child with a daycare place moved into Lahti; skipping the consent story.")
        return
    citizen = {"Authorization": f"Bearer {mint(PORTAL, child)}"}
    ask = (
        "curl -s -X POST 'http://127.0.0.1:8000/v1/shares?limit=10' \\\n"
        f'  -H "Authorization: Bearer {_token(SCHOOL)}" \\\n'
        f"  -H 'Content-Type: application/json' -d '{json.dumps(SCHOOL_START)}'"
    )
    console.rule("A family that moved into Lahti decides what the school may see")
    _step(console, "1. The school asks before the family consents", ask, _school_asks(client, mint))
    until = (app.state.runtime.now().date() + timedelta(days=365)).isoformat()
    body = {
        "partner": SCHOOL,
        "dataset": "ece_placements",
        "purpose": "school_start_support",
        "fields": SCHOOL_START["fields"],
        "valid_until": until,
    }
    granted = client.post("/v1/subjects/me/consents", json=body, headers=citizen)
    grant = (
        "curl -s -X POST http://127.0.0.1:8000/v1/subjects/me/consents \\\n"
        f'  -H "Authorization: Bearer {_token(PORTAL, child)}" \\\n'
        f"  -H 'Content-Type: application/json' -d '{json.dumps(body)}'"
    )
    _step(console, "2. The guardian consents in the citizen portal (or at /me)", grant, granted)
    _step(console, "3. The school asks again: released", ask, _school_asks(client, mint))
    consent_id = granted.json().get("consent_id", "")
    citizen = {"Authorization": f"Bearer {mint(PORTAL, child)}"}
    revoked = client.delete(f"/v1/subjects/me/consents/{consent_id}", headers=citizen)
    revoke = (
        f"curl -s -X DELETE http://127.0.0.1:8000/v1/subjects/me/consents/{consent_id} \\\n"
        f'  -H "Authorization: Bearer {_token(PORTAL, child)}"'
    )
    _step(console, "4. The guardian revokes the consent", revoke, revoked)
    _step(console, "5. The school asks once more: consent_revoked", ask, _school_asks(client, mint))
    citizen = {"Authorization": f"Bearer {mint(PORTAL, child)}"}
    own = client.get("/v1/subjects/me/data", headers=citizen)
    download = (
        "curl -s 'http://127.0.0.1:8000/v1/subjects/me/data?format=csv' \\\n"
        f'  -H "Authorization: Bearer {_token(PORTAL, child)}"'
    )
    _step(console, "6. The family downloads its own data (audited, listed at /me)", download, own)
