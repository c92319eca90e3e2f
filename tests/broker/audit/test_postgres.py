"""The chain, its checkpoints and tamper detection behave the same on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from broker.audit import CheckpointSigner, audit_checkpoints, audit_log, verify_chain
from contracts.store import make_engine
from tests.broker.audit.helpers import fill, set_record
from tests.schema import prepare_store

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    prepare_store(engine)
    yield engine
    engine.dispose()


def test_tampering_is_found_on_postgresql(pg_engine: Engine, signer: CheckpointSigner) -> None:
    fill(pg_engine, 8, signer=signer, every=4)
    with pg_engine.connect() as conn:
        report = verify_chain(conn, signer.public_key)
    assert report.ok and report.length == 8 and report.checkpoints_checked == 2

    set_record(pg_engine, 3, fields_released=["child_id", "person_id"])
    with pg_engine.connect() as conn:
        assert verify_chain(conn, signer.public_key).first_broken_seq == 3


def test_truncation_is_found_on_postgresql(pg_engine: Engine, signer: CheckpointSigner) -> None:
    fill(pg_engine, 8, signer=signer, every=4)
    with pg_engine.begin() as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq > 6))
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_checkpoints)).scalar() == 2
    with pg_engine.connect() as conn:
        report = verify_chain(conn, signer.public_key)
    assert report.first_broken_seq == 7 and "truncated" in (report.problem or "")
