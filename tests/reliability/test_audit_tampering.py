"""`tillit audit verify` finds each way of tampering with the stored log: a non-zero exit and a
message naming what happened and where. (Edits and forged signatures: tests/broker/audit.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from broker.audit import (
    CheckpointSigner,
    audit_checkpoints,
    audit_log,
    generate_signing_key,
    public_key_pem,
)
from broker.audit.checkpoints import CHECKPOINT_EVERY
from broker.audit.cli import audit_app
from contracts.store import make_engine
from tests.broker.audit.helpers import fill
from tests.schema import prepare_store

runner = CliRunner()
# Long enough for two checkpoints (at 100 and 200) and an unsigned tail after the last one.
LENGTH = 2 * CHECKPOINT_EVERY + 50


@pytest.fixture(scope="module")
def signed_chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A store with a checkpointed chain, written once; tests tamper with copies."""
    root = tmp_path_factory.mktemp("signed-chain")
    engine = make_engine(f"sqlite:///{root / 'store.db'}")
    prepare_store(engine)
    signer = CheckpointSigner(generate_signing_key(root / "checkpoint.pem"))
    fill(engine, LENGTH, signer=signer, every=CHECKPOINT_EVERY)
    engine.dispose()
    public = root / "checkpoint.pub.pem"
    public.write_bytes(public_key_pem(signer.public_key))
    return root / "store.db", public


@pytest.fixture
def chain(tmp_path: Path, signed_chain: tuple[Path, Path]) -> Iterator[tuple[Engine, list[str]]]:
    """An engine on a private copy of the chain, and the CLI arguments that verify it."""
    store, public = signed_chain
    copy = tmp_path / "store.db"
    copy.write_bytes(store.read_bytes())
    url = f"sqlite:///{copy}"
    engine = make_engine(url)
    yield engine, ["verify", "--database-url", url, "--checkpoint-public-key", str(public)]
    engine.dispose()


def _delete_records(engine: Engine, first: int, last: int = LENGTH) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq.between(first, last)))


def _delete_checkpoint(engine: Engine, seq: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(audit_checkpoints).where(audit_checkpoints.c.seq == seq))


def _swap(engine: Engine, first: int, second: int) -> None:
    """Reorder two records by exchanging their positions (seq), contents untouched."""
    with engine.begin() as conn:
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == first).values(seq=LENGTH + 1))
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == second).values(seq=first))
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == LENGTH + 1).values(seq=second))


def _hash_of(engine: Engine, seq: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.select(audit_log.c.hash).where(audit_log.c.seq == seq)).scalar())


def test_the_untouched_chain_verifies(chain: tuple[Engine, list[str]]) -> None:
    engine, args = chain
    result = runner.invoke(audit_app, [*args, "--anchor", f"{LENGTH}:{_hash_of(engine, LENGTH)}"])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output and "2 checked" in result.output


TAMPERING: dict[str, tuple[Callable[[Engine], None], str, str]] = {
    "a record deleted": (
        lambda engine: _delete_records(engine, 120, 120),
        "BROKEN at record 120",
        "record 120 is missing",
    ),
    "two records reordered": (
        lambda engine: _swap(engine, 57, 58),
        "BROKEN at record 57",
        "record 57 does not link to record 56",
    ),
    "truncated before the last checkpoint": (
        lambda engine: _delete_records(engine, 150),
        "BROKEN at record 150",
        "a checkpoint vouches for record 200: the log was truncated",
    ),
    "a checkpoint deleted": (
        lambda engine: _delete_checkpoint(engine, CHECKPOINT_EVERY),
        "BROKEN at record 100",
        "the checkpoint of record 100 is missing",
    ),
    "every checkpoint deleted": (
        lambda engine: [_delete_checkpoint(engine, seq) for seq in (100, 200)] and None,
        "BROKEN at record 100",
        "the checkpoint of record 100 is missing",
    ),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_tampering_is_found_and_named(chain: tuple[Engine, list[str]], case: str) -> None:
    engine, args = chain
    tamper, where, problem = TAMPERING[case]
    tamper(engine)
    result = runner.invoke(audit_app, args)
    assert result.exit_code == 1, result.output
    assert where in result.output
    assert problem in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("first_deleted", "checkpoints_deleted"),
    [(LENGTH - 20, ()), (180, (200,))],
    ids=["truncated after the last checkpoint", "truncated with its checkpoint deleted"],
)
def test_a_truncation_no_checkpoint_in_the_database_covers_is_found_by_an_exported_anchor(
    chain: tuple[Engine, list[str]], first_deleted: int, checkpoints_deleted: tuple[int, ...]
) -> None:
    engine, args = chain
    # The operator exported the head (seq and hash) before the tampering, outside the database.
    anchor = f"{LENGTH}:{_hash_of(engine, LENGTH)}"
    _delete_records(engine, first_deleted)
    for seq in checkpoints_deleted:
        _delete_checkpoint(engine, seq)
    result = runner.invoke(audit_app, [*args, "--anchor", anchor])
    assert result.exit_code == 1, result.output
    assert f"BROKEN at record {first_deleted}" in result.output
    assert f"the anchor vouches for record {LENGTH}: the log was truncated" in " ".join(
        result.output.split()
    )


def test_an_anchor_that_does_not_match_its_record_is_found(
    chain: tuple[Engine, list[str]],
) -> None:
    _, args = chain
    result = runner.invoke(audit_app, [*args, "--anchor", f"{LENGTH - 10}:{'0' * 64}"])
    assert result.exit_code == 1
    assert f"record {LENGTH - 10} differs from the anchor" in " ".join(result.output.split())


def test_a_malformed_anchor_is_a_usage_error(chain: tuple[Engine, list[str]]) -> None:
    _, args = chain
    result = runner.invoke(audit_app, [*args, "--anchor", "latest"])
    assert result.exit_code == 2
    assert "SEQ:HASH" in result.output
