"""The demo's consent story runs against a real broker and tells what happened at each step."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from rich.console import Console

from tests.broker.app.conftest import Minter
from tillit.demo_consent import show_consent_story


def test_the_demo_shows_consent_missing_released_then_revoked(
    app: FastAPI, client: TestClient, auth: Minter
) -> None:
    console = Console(record=True, width=200)

    def mint(partner: str, subject: str | None) -> str:
        return auth(partner, subject)["Authorization"].removeprefix("Bearer ")

    show_consent_story(console, app, client, mint)
    story = console.export_text()
    steps = [story.index(f"{number}. ") for number in range(1, 7)]
    assert steps == sorted(steps)
    first, granted, released, revoked, denied, own = (
        story[start:end] for start, end in zip(steps, [*steps[1:], len(story)], strict=True)
    )
    assert "→ 403" in first and "consent_missing" in first
    assert "→ 201" in granted
    assert "→ 200" in released and '"row_count": 0' not in released
    assert "→ 200" in revoked and '"status": "revoked"' in revoked
    assert "→ 403" in denied and "consent_revoked" in denied
    assert "→ 200" in own and '"dataset": "ece_placements"' in own
