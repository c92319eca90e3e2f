"""The store goes away under a running broker: 503 problem documents, nothing released,
not ready, and the broker recovers by itself when the store comes back."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from broker.config.keys import mint_token
from broker.config.settings import BrokerSettings
from broker.main import create_app
from tests.broker.app.helpers import ECE_REQUEST
from tests.reliability.conftest import AUDIENCE
from tests.reliability.proxy import CuttableProxy
from tests.reliability.support import (
    Outcome,
    assert_promises_kept,
    drain_outbox,
    report,
    store_facts,
)

PARTNER = "lahti-education"


def _settings(broker_config: dict[str, Path], database_url: str) -> BrokerSettings:
    return BrokerSettings(
        config_dir=broker_config["config_dir"],
        database_url=database_url,
        pseudonym_key=SecretStr("k" * 64),
        checkpoint_key_file=broker_config["checkpoint"],
        audience=AUDIENCE,
        lineage_shipping=False,
    )


class Caller:
    """Share requests through a TestClient, each with a fresh token, remembered as outcomes."""

    def __init__(self, client: TestClient, broker_config: dict[str, Path]) -> None:
        self.client = client
        self.partner = client.app.state.runtime.config.partners[PARTNER]  # type: ignore[attr-defined]
        self.key = broker_config[PARTNER]
        self.outcomes: list[Outcome] = []

    def share(self) -> Any:
        token = mint_token(self.partner, self.key, AUDIENCE, "caseworker")
        jti = jwt.decode(token, options={"verify_signature": False})["jti"]
        answer = self.client.post(
            "/v1/shares?limit=5", json=ECE_REQUEST, headers={"Authorization": f"Bearer {token}"}
        )
        outcome = Outcome(jti=jti, permitted=True, stream=False, status=answer.status_code)
        outcome.share_id = answer.headers.get("x-tillit-share-id")
        outcome.content_type = answer.headers.get("content-type")
        outcome.complete = True
        if answer.status_code != 200:
            outcome.code = answer.json().get("code")
        self.outcomes.append(outcome)
        return answer


def assert_refused_safely(answer: Any) -> None:
    """503, a problem document with a code, a retry hint, and no rows or receipt."""
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "service_unavailable" and problem["status"] == 503
    assert "rows" not in problem and "x-tillit-share-id" not in answer.headers


def assert_not_ready(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["ready"] is False


@contextmanager
def fault_at_audit_insert(engine: sa.Engine, fault: Callable[[], None]) -> Iterator[None]:
    """Run `fault` as the broker inserts an audit record: the store fails mid-transaction."""

    def audit_insert(statement: str) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            fault()

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        audit_insert(statement)

    def traced(driver: Any, _record: Any) -> None:
        # On SQLite the chain's insert goes to sqlite3 directly: watch the driver's statements.
        driver.set_trace_callback(audit_insert)

    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        engine.dispose()  # pooled connections were opened without the trace
        sa.event.listen(engine, "connect", traced)
    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        if sqlite:
            sa.event.remove(engine, "connect", traced)
            # While the file is still read-only: the connections opened next are read-only
            # ones, which the broker must replace once the file is writable again.
            engine.dispose()


def check_store_after(database_url: str, caller: Caller, checkpoint: Path, test: str) -> None:
    """Every 200 is recorded, every 503 left nothing, and the chain is whole."""
    drain_outbox(database_url)
    facts = store_facts(database_url, checkpoint)
    assert_promises_kept(caller.outcomes, facts)
    refused = [o for o in caller.outcomes if o.status == 503]
    assert refused and all(o.jti not in facts.records_by_jti for o in refused)
    statuses = [o.status for o in caller.outcomes]
    report(test, {"statuses_in_order": statuses, "audit_records": facts.chain_length})


# -- SQLite: the store file turns read-only -------------------------------------------------


def _set_immutable(files: list[Path], on: bool) -> None:
    # chattr, not chmod: permissions do not stop root, nor a process that opened the file.
    subprocess.run(["chattr", "+i" if on else "-i", *map(str, files)], check=True)


@pytest.fixture
def read_only(sqlite_store: Path) -> Iterator[tuple[Callable[[], None], Callable[[], None]]]:
    """Make the store file and its write-ahead log read-only, and writable again."""
    if os.geteuid() != 0:
        pytest.skip("making the store file immutable needs root (CAP_LINUX_IMMUTABLE)")
    files = [sqlite_store, sqlite_store.with_name(sqlite_store.name + "-wal")]
    frozen: list[bool] = []

    def freeze() -> None:
        _set_immutable([f for f in files if f.exists()], True)
        frozen.append(True)

    def thaw() -> None:
        if frozen:
            _set_immutable([f for f in files if f.exists()], False)
            frozen.clear()

    yield freeze, thaw
    thaw()


def test_a_read_only_sqlite_store_refuses_with_503_and_recovers(
    broker_config: dict[str, Path],
    sqlite_store: Path,
    read_only: tuple[Callable[[], None], Callable[[], None]],
) -> None:
    freeze, thaw = read_only
    url = f"sqlite:///{sqlite_store}"
    with TestClient(create_app(_settings(broker_config, url))) as client:
        caller = Caller(client, broker_config)
        assert caller.share().status_code == 200

        freeze()
        assert_refused_safely(caller.share())
        assert_not_ready(client)
        thaw()

        # The file turns read-only while the audit record is being written.
        engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
        with fault_at_audit_insert(engine, freeze):
            assert_refused_safely(caller.share())
        assert_not_ready(client)
        thaw()

        # Back without a restart.
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert caller.share().status_code == 200
    check_store_after(url, caller, broker_config["checkpoint"], "outage_sqlite_read_only")


# -- PostgreSQL: the connection to the server is cut ---------------------------------------


@pytest.fixture
def proxied_postgres(loaded_postgres_url: str) -> Iterator[tuple[str, CuttableProxy]]:
    """The loaded store reached through a proxy the test can cut: (broker URL, proxy)."""
    real = sa.engine.make_url(loaded_postgres_url)
    proxy = CuttableProxy(real.host or "127.0.0.1", real.port or 5432)
    through = real.set(host="127.0.0.1", port=proxy.port)
    yield through.render_as_string(hide_password=False), proxy
    proxy.close()


@pytest.mark.postgres
def test_losing_postgresql_refuses_with_503_and_recovers(
    broker_config: dict[str, Path],
    loaded_postgres_url: str,
    proxied_postgres: tuple[str, CuttableProxy],
) -> None:
    url, proxy = proxied_postgres
    with TestClient(create_app(_settings(broker_config, url))) as client:
        caller = Caller(client, broker_config)
        assert caller.share().status_code == 200

        proxy.cut()
        assert_refused_safely(caller.share())
        assert_not_ready(client)
        proxy.restore()

        # The connection drops while the audit record is being written.
        engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
        with fault_at_audit_insert(engine, proxy.cut):
            assert_refused_safely(caller.share())
        assert_not_ready(client)
        proxy.restore()

        assert client.get("/readyz").status_code == 200
        assert caller.share().status_code == 200
        assert caller.share().status_code == 200
    check_store_after(
        loaded_postgres_url, caller, broker_config["checkpoint"], "outage_postgres_cut"
    )


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_a_postgresql_server_that_stops_answering_is_refused_in_bounded_time(
    broker_config: dict[str, Path],
    loaded_postgres_url: str,
    proxied_postgres: tuple[str, CuttableProxy],
) -> None:
    url, proxy = proxied_postgres
    with TestClient(create_app(_settings(broker_config, url))) as client:
        caller = Caller(client, broker_config)
        assert caller.share().status_code == 200
        # Connections are accepted and then never answered: without a connect timeout each
        # request would wait minutes for the database, holding a worker thread all along.
        proxy.hang()
        assert_refused_safely(caller.share())
        proxy.restore()
        assert caller.share().status_code == 200
    check_store_after(
        loaded_postgres_url, caller, broker_config["checkpoint"], "outage_postgres_hung"
    )
