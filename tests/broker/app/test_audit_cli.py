"""`tillit audit verify` over the audit log the broker wrote: intact, then tampered."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import ECE_REQUEST
from tillit.cli import app as cli

runner = CliRunner()


def test_verify_passes_on_the_brokers_chain_and_names_an_edited_record(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    for _ in range(3):
        assert (
            client.post(
                "/v1/shares?limit=2", json=ECE_REQUEST, headers=auth("lahti-education")
            ).status_code
            == 200
        )
    intact = runner.invoke(cli, ["audit", "verify", "--database-url", store_url])
    assert intact.exit_code == 0, intact.output
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET row_count = 9999 WHERE seq = 2"))
    engine.dispose()
    tampered = runner.invoke(cli, ["audit", "verify", "--database-url", store_url])
    assert tampered.exit_code == 1
    assert "2" in tampered.output
