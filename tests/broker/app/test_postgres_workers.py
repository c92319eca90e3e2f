"""Two broker worker processes on PostgreSQL keep one unforked audit chain under load."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from broker.audit import verify_chain
from broker.config.keys import mint_token
from broker.config.loader import read_partners
from tests.broker.app.conftest import AUDIENCE, ROOT
from tests.broker.app.helpers import ECE_REQUEST

pytestmark = [pytest.mark.postgres, pytest.mark.integration]
DENIED = {**ECE_REQUEST, "legal_basis": "basic_education_act_628_1998"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def broker_on_postgres(
    postgres_url: str, legacy_drop: Path, broker_config: dict[str, Path]
) -> Iterator[str]:
    from orchestration.run import run_pipeline
    from tests.schema import migrate

    loaded = run_pipeline(
        migrate(postgres_url),
        str(legacy_drop),
        instance=dg.DagsterInstance.ephemeral(),
        log_level="ERROR",
    )
    assert loaded.success
    port = _free_port()
    env = {
        **os.environ,
        "TILLIT_CONFIG_DIR": str(broker_config["config_dir"]),
        "TILLIT_DATABASE_URL": postgres_url,
        "TILLIT_PSEUDONYM_KEY": "k" * 64,
        "TILLIT_CHECKPOINT_KEY_FILE": str(broker_config["checkpoint"]),
        "TILLIT_AUDIENCE": AUDIENCE,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "broker.main:app",
            "--workers",
            "2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the broker did not become ready")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_concurrent_requests_append_exactly_one_record_each_to_one_chain(
    broker_on_postgres: str, broker_config: dict[str, Path], postgres_url: str
) -> None:
    partners = {p.id: p for p in read_partners(broker_config["config_dir"])}
    partner = partners["lahti-education"]

    def call(number: int) -> tuple[int, str]:
        token = mint_token(partner, broker_config[partner.id], AUDIENCE, f"caseworker-{number}")
        body = DENIED if number % 5 == 0 else ECE_REQUEST
        response = httpx.post(
            f"{broker_on_postgres}/v1/shares?limit=5",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        return response.status_code, f"caseworker-{number}"

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(call, range(60)))
    assert sorted(status for status, _ in answers) == [200] * 48 + [403] * 12

    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        seqs = list(conn.execute(sa.text("SELECT seq FROM audit_log ORDER BY seq")).scalars())
        decisions = conn.execute(
            sa.text("SELECT decision, count(*) FROM audit_log GROUP BY decision")
        ).all()
        jtis = conn.execute(sa.text("SELECT count(DISTINCT jti) FROM audit_log")).scalar_one()
        report = verify_chain(conn)
    engine.dispose()
    assert seqs == list(range(1, 61))
    assert dict(decisions) == {"permit": 48, "deny": 12}
    assert jtis == 60
    assert report.first_broken_seq is None and report.problem is None and report.length == 60
