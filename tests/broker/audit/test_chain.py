"""The audit chain: appends link up, and every kind of tampering is found at the right record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine

from broker.audit import (
    GENESIS_HASH,
    AuditEntry,
    CheckpointSigner,
    VerifyReport,
    append,
    audit_checkpoints,
    audit_log,
    audit_transaction,
    chain_head,
    record_hash,
    verify_chain,
    write_checkpoint,
)
from broker.audit.checkpoints import maybe_checkpoint
from broker.audit.records import ENTRY_FIELDS
from broker.audit.verify import verify_chain_parallel
from tests.broker.audit.helpers import T0, fill, make_entry, record, set_record

Verify = Callable[..., VerifyReport]


@pytest.fixture(params=["in one walk", "in stretches"])
def verify(request: pytest.FixtureRequest) -> Verify:
    """Verification of the whole chain at once, and split into stretches verified apart (as
    ``tillit audit verify --jobs`` does in processes; here in this one, to stay fast)."""

    def run(engine: Engine, signer: CheckpointSigner | None = None) -> VerifyReport:
        key = signer.public_key if signer else None
        if request.param == "in one walk":
            with engine.connect() as conn:
                return verify_chain(conn, key)
        url = engine.url.render_as_string(hide_password=False)
        return verify_chain_parallel(url, key, jobs=3, smallest=0, mapper=map)

    return run


def test_appends_form_a_linked_chain(verify: Verify, engine: Engine) -> None:
    fill(engine, 5)
    with engine.connect() as conn:
        rows = [record(conn, seq) for seq in range(1, 6)]
    assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_hash"] == GENESIS_HASH
    assert [row["prev_hash"] for row in rows[1:]] == [row["hash"] for row in rows[:-1]]
    report = verify(engine)
    assert report.ok and report.length == 5 and report.head_hash == rows[-1]["hash"]
    assert report.first_broken_seq is None


def test_an_auditor_can_recompute_a_hash_by_hand(engine: Engine) -> None:
    fill(engine, 1)
    with audit_transaction(engine) as conn:
        append(conn, make_entry(1, issuer="https://tunnistus.fi/Päijät-Häme"), T0)
    with engine.connect() as conn:
        row = record(conn, 2)
    document = {key: value for key, value in row.items() if key != "hash"}
    document["v"] = 1
    document["recorded_at"] = row["recorded_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode("utf-8")).hexdigest() == row["hash"]


def test_record_hash_is_independent_of_the_callers_time_zone() -> None:
    entry = make_entry(0)
    helsinki = T0.astimezone(ZoneInfo("Europe/Helsinki"))
    assert record_hash(GENESIS_HASH, 1, helsinki, entry) == record_hash(GENESIS_HASH, 1, T0, entry)


def _changed(column: str, value: Any) -> Any:
    if column == "recorded_at":
        return value + timedelta(microseconds=1)
    if column in ("reasons", "fields_released"):
        return [*value, "person_id"]
    if column == "row_count":
        return value + 1
    if column == "decision":
        return "deny" if value == "permit" else "permit"
    if column == "subject_kind":
        return "operator"
    if column in ("prev_hash", "hash"):
        return hashlib.sha256(value.encode()).hexdigest()
    return "tampered" if value is None else value + "x"


EDITABLE = [column.name for column in audit_log.columns if column.name != "seq"]


@pytest.mark.parametrize("seq", [1, 4, 6])
@pytest.mark.parametrize("column", EDITABLE)
def test_editing_any_field_of_any_record_is_found(
    verify: Verify, engine: Engine, column: str, seq: int
) -> None:
    fill(engine, 6)
    with engine.connect() as conn:
        original = record(conn, seq)[column]
    set_record(engine, seq, **{column: _changed(column, original)})
    report = verify(engine)
    assert not report.ok
    assert report.first_broken_seq == seq
    assert report.length == 6


def test_renumbering_a_record_is_found(verify: Verify, engine: Engine) -> None:
    fill(engine, 6)
    set_record(engine, 3, seq=99)
    report = verify(engine)
    assert report.first_broken_seq == 3
    assert "missing" in (report.problem or "")


@pytest.mark.parametrize("seq", [1, 3, 4, 5])
def test_deleting_a_record_is_found(verify: Verify, engine: Engine, seq: int) -> None:
    fill(engine, 6)
    with engine.begin() as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq == seq))
    report = verify(engine)
    assert report.first_broken_seq == seq
    assert report.problem == f"record {seq} is missing (next is {seq + 1})"
    assert report.length == 5


def test_swapping_two_records_is_found(verify: Verify, engine: Engine) -> None:
    fill(engine, 6)
    with engine.connect() as conn:
        second, fifth = record(conn, 2), record(conn, 5)
    # share_id is unique, so clear both before exchanging everything but the position.
    set_record(engine, 2, share_id=None)
    set_record(engine, 5, share_id=None)
    set_record(engine, 2, **{k: v for k, v in fifth.items() if k != "seq"})
    set_record(engine, 5, **{k: v for k, v in second.items() if k != "seq"})
    report = verify(engine)
    assert report.first_broken_seq == 2
    assert report.length == 6


def test_truncating_the_tail_is_found_by_a_checkpoint(
    verify: Verify, engine: Engine, signer: CheckpointSigner
) -> None:
    fill(engine, 10, signer=signer, every=5)
    with engine.begin() as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq >= 8))
    report = verify(engine, signer)
    assert report.first_broken_seq == 8
    assert "truncated" in (report.problem or "")
    assert report.length == 7


def test_rewriting_history_before_a_checkpoint_is_found(
    verify: Verify, engine: Engine, signer: CheckpointSigner
) -> None:
    fill(engine, 5, signer=signer, every=5)
    # An attacker with database access rewrites record 3 and re-hashes everything after it.
    with engine.begin() as conn:
        rows = [record(conn, seq) for seq in range(1, 6)]
        conn.execute(sa.delete(audit_log))
    rows[2]["row_count"] = 0
    prev = rows[1]["hash"]
    for row in rows[2:]:
        row["prev_hash"] = prev
        entry = AuditEntry(**{name: row[name] for name in ENTRY_FIELDS})
        row["hash"] = prev = record_hash(prev, row["seq"], row["recorded_at"], entry)
    with engine.begin() as conn:
        conn.execute(audit_log.insert(), rows)
    report = verify(engine, signer)
    assert report.first_broken_seq == 5
    assert "checkpoint" in (report.problem or "")


def test_a_forged_checkpoint_signature_is_found(
    verify: Verify, engine: Engine, signer: CheckpointSigner
) -> None:
    fill(engine, 9, signer=signer, every=3)
    forger = CheckpointSigner(Ed25519PrivateKey.generate(), key_id=signer.key_id)
    with engine.begin() as conn:
        stored = conn.execute(sa.select(audit_checkpoints).where(audit_checkpoints.c.seq == 6))
        checkpoint = stored.one()
        forged = forger.sign(6, checkpoint.head_hash, checkpoint.signed_at)
        conn.execute(
            sa.update(audit_checkpoints)
            .where(audit_checkpoints.c.seq == 6)
            .values(signature=forged.signature)
        )
    report = verify(engine, signer)
    assert report.first_broken_seq == 6
    assert "signature" in (report.problem or "")
    assert verify(engine).ok, "without the public key only head hashes are compared"


def test_checkpoints_are_written_every_n_records(
    verify: Verify, engine: Engine, signer: CheckpointSigner
) -> None:
    fill(engine, 7, signer=signer, every=3)
    with engine.connect() as conn:
        seqs = conn.execute(sa.select(audit_checkpoints.c.seq)).scalars().all()
    assert sorted(seqs) == [3, 6]
    report = verify(engine, signer)
    assert report.ok and report.checkpoints_checked == 2


def test_a_burst_of_records_still_gets_a_checkpoint(
    verify: Verify, engine: Engine, signer: CheckpointSigner
) -> None:
    with audit_transaction(engine) as conn:
        for index in range(5):
            append(conn, make_entry(index), T0)
        assert maybe_checkpoint(conn, signer, T0, every=3) is not None
        assert write_checkpoint(conn, signer, T0) is None, "the head is already signed"
    assert verify(engine, signer).checkpoints_checked == 1


def test_append_requires_the_chain_lock(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(RuntimeError, match="audit_transaction"):
        append(conn, make_entry(0), T0)


def test_append_rejects_a_naive_time(engine: Engine) -> None:
    with audit_transaction(engine) as conn, pytest.raises(ValueError, match="timezone"):
        append(conn, make_entry(0), datetime(2026, 3, 2, 8, 15))


def test_a_failed_transaction_leaves_no_record(verify: Verify, engine: Engine) -> None:
    fill(engine, 2)
    with pytest.raises(ZeroDivisionError), audit_transaction(engine) as conn:
        append(conn, make_entry(2), T0)
        _ = 1 / 0
    with engine.connect() as conn:
        assert chain_head(conn)[0] == 2
    assert verify(engine).ok


def test_the_engine_is_left_in_its_normal_transaction_mode(verify: Verify, engine: Engine) -> None:
    fill(engine, 1)
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None and driver.isolation_level == ""
        conn.execute(audit_log.delete())
        assert driver.in_transaction, "pysqlite's implicit transaction is back for other users"
        conn.rollback()
    assert verify(engine).length == 1


def test_an_empty_chain_verifies(verify: Verify, engine: Engine) -> None:
    report = verify(engine)
    assert report.ok and report.length == 0 and report.head_hash == GENESIS_HASH


def test_nested_audit_transactions_are_refused_rather_than_deadlocking(
    verify: Verify, engine: Engine
) -> None:
    with audit_transaction(engine) as conn:
        append(conn, make_entry(0), T0)
        with pytest.raises(RuntimeError, match="nested"), audit_transaction(engine):
            pass
    assert verify(engine).length == 1


def test_worker_processes_verify_stretches_and_find_what_one_walk_finds(
    engine: Engine, signer: CheckpointSigner
) -> None:
    fill(engine, 12, signer=signer, every=4)
    url = engine.url.render_as_string(hide_password=False)
    whole = verify_chain_parallel(url, signer.public_key, jobs=2, smallest=0)
    assert whole.ok and (whole.length, whole.checkpoints_checked) == (12, 3)
    with engine.connect() as conn:
        assert whole == verify_chain(conn, signer.public_key)
    set_record(engine, 9, row_count=10**6)
    broken = verify_chain_parallel(url, signer.public_key, jobs=2, smallest=0)
    assert (broken.first_broken_seq, broken.length) == (9, 12)
    assert "altered" in (broken.problem or "")
