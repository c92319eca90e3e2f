"""Operators' view: the Dagster UI on the project's workspace shows what the contracts say."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
# uvicorn logs this once its socket listens (dagster's own "Serving ..." line comes earlier).
READY_LINE = "Uvicorn running on"
START_TIMEOUT_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _instance_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster-home"
    home.mkdir()
    settings = (ROOT / "dagster.yaml").read_text(encoding="utf-8")
    # A fresh instance would greet the operator with Dagster's community dialog first.
    (home / "dagster.yaml").write_text(settings + "nux:\n  enabled: false\n", encoding="utf-8")
    return home


@pytest.fixture
def dagster_ui(tmp_path: Path) -> Iterator[str]:
    """dagster-webserver on workspace.yaml with a temporary DAGSTER_HOME; its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(_instance_home(tmp_path)),
        "TILLIT_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "TILLIT_LEGACY_DIR": str(tmp_path / "legacy"),
    }
    command = [str(Path(sys.executable).parent / "dagster-webserver")]
    command += ["-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    command += ["--uvicorn-log-level", "info"]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    log: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        # Keep reading so the server never blocks on a full pipe; EOF means it has exited.
        assert server.stdout is not None
        for line in server.stdout:
            log.append(line)
            if READY_LINE in line:
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not ready.wait(START_TIMEOUT_SECONDS) or server.poll() is not None:
            pytest.fail("dagster-webserver did not start:\n" + "".join(log))
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def test_operators_see_assets_checks_owners_and_classified_columns(
    page: Any, dagster_ui: str, artifacts: Path
) -> None:
    expect = _expect()
    page.set_default_timeout(60_000)  # the code location loads while the first page renders
    page.goto(f"{dagster_ui}/asset-groups")
    expect(page.get_by_text("Global asset lineage")).to_be_visible()
    for group in ("population_register", "early_childhood_education", "indicators"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    page.screenshot(path=artifacts / "dagster-global-lineage.png")

    page.goto(f"{dagster_ui}/locations/tillit/asset-groups/population_register/lineage")
    for asset in ("persons", "households", "ece_placements"):
        expect(page.get_by_text(asset, exact=True).first).to_be_visible()
    page.screenshot(path=artifacts / "dagster-population-register-graph.png")

    page.goto(f"{dagster_ui}/assets/persons")
    expect(page.get_by_text("as the population register knows them").first).to_be_visible()
    expect(page.get_by_text("Owners", exact=True)).to_be_visible()
    expect(page.get_by_text("population-data", exact=True).first).to_be_visible()
    columns = page.get_by_role("row").filter(has_text="person_id")
    expect(columns.first).to_contain_text("classification: personal")
    expect(columns.first).to_contain_text("henkilötunnus")
    page.screenshot(path=artifacts / "dagster-persons.png")
    columns.first.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "dagster-persons-columns.png")

    page.goto(f"{dagster_ui}/assets/persons?view=checks")
    for check in ("reconciliation", "quarantine_rate", "schema_conformance"):
        expect(page.get_by_text(check, exact=True).first).to_be_visible()
    expect(page.get_by_text("This is a blocking asset check.")).to_be_visible()
    page.screenshot(path=artifacts / "dagster-persons-checks.png")
