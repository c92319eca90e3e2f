"""`tillit audit verify`: exit 0 on an intact chain, non-zero naming the record otherwise."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from broker.audit import CheckpointSigner, generate_signing_key, public_key_pem
from broker.audit.cli import audit_app
from tests.broker.audit.helpers import fill, set_record

runner = CliRunner()


def test_an_intact_chain_exits_zero(engine: Engine, sqlite_url: str) -> None:
    fill(engine, 4)
    result = runner.invoke(audit_app, ["verify", "--database-url", sqlite_url])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output
    assert "4" in result.output


def test_a_tampered_record_exits_non_zero_and_is_named(engine: Engine, sqlite_url: str) -> None:
    fill(engine, 4)
    set_record(engine, 3, purpose="official_statistics")
    result = runner.invoke(audit_app, ["verify"], env={"TILLIT_DATABASE_URL": sqlite_url})
    assert result.exit_code == 1
    assert "record 3" in result.output
    assert "altered" in result.output


def test_checkpoint_signatures_are_checked_with_the_public_key(
    engine: Engine, sqlite_url: str, tmp_path: Path
) -> None:
    signer = CheckpointSigner(generate_signing_key(tmp_path / "checkpoint.pem"))
    assert (tmp_path / "checkpoint.pem").stat().st_mode & 0o777 == 0o600
    public = tmp_path / "checkpoint.pub.pem"
    public.write_bytes(public_key_pem(signer.public_key))
    fill(engine, 6, signer=signer, every=3)
    args = ["verify", "--database-url", sqlite_url, "--checkpoint-public-key", str(public)]
    result = runner.invoke(audit_app, args)
    assert result.exit_code == 0, result.output
    assert "signatures verified" in result.output

    other = CheckpointSigner(generate_signing_key(tmp_path / "other.pem"))
    public.write_bytes(public_key_pem(other.public_key))
    result = runner.invoke(audit_app, args)
    assert result.exit_code == 1
    assert "record 3" in result.output and "signature" in result.output


def test_a_missing_database_is_an_error_not_an_empty_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere.db'}"
    result = runner.invoke(audit_app, ["verify", "--database-url", url])
    assert result.exit_code == 2
    assert "no database" in result.output
    assert not (tmp_path / "nowhere.db").exists()
