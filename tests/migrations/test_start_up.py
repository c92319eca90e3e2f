"""The broker and the pipeline refuse a database not migrated to their release; `tillit db`."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import contracts.schema_revision as schema_revision
from contracts.schema_revision import SchemaNotCurrentError, require_current_schema
from contracts.store import make_engine
from orchestration.resources import StoreResource
from tillit.cli import app
from tillit.migrations import head, upgrade

runner = CliRunner()


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tillit.db'}"


def test_an_unmigrated_database_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    engine = make_engine(_url(tmp_path))
    with pytest.raises(SchemaNotCurrentError, match="run `tillit db upgrade`"):
        require_current_schema(engine)
    with pytest.raises(SchemaNotCurrentError, match="no Tillit schema"):
        StoreResource(database_url=_url(tmp_path)).engine()
    # Refusing created nothing: the pipeline never builds Tillit's tables itself.
    assert sa.inspect(engine).get_table_names() == []
    upgrade(engine)
    require_current_schema(engine)


def test_a_database_behind_the_release_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(_url(tmp_path))
    upgrade(engine)
    monkeypatch.setattr(schema_revision, "SCHEMA_REVISIONS", (head(), "9999"))
    with pytest.raises(SchemaNotCurrentError, match=f"at revision {head()}, this release needs"):
        require_current_schema(engine)


def test_a_database_a_newer_release_migrated_is_served_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(_url(tmp_path))
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE tillit_alembic_version SET version_num = '9999'"))
    with caplog.at_level(logging.WARNING):
        require_current_schema(engine)
    assert "newer than this release" in caplog.text


def test_db_commands_upgrade_show_and_downgrade(tmp_path: Path) -> None:
    url = ["--database-url", _url(tmp_path)]
    behind = runner.invoke(app, ["db", "current", *url])
    assert behind.exit_code == 1 and "run `tillit db upgrade`" in behind.output
    migrated = runner.invoke(app, ["db", "upgrade", *url])
    assert migrated.exit_code == 0, migrated.output
    assert f"to {head()}" in migrated.output
    again = runner.invoke(app, ["db", "upgrade", "--revision", "head", *url])
    assert "nothing to do" in again.output
    shown = runner.invoke(app, ["db", "current", *url])
    assert shown.exit_code == 0 and "up to date" in shown.output
    kept = runner.invoke(app, ["db", "downgrade", "base", *url], input="n\n")
    assert kept.exit_code == 1
    assert "audit_log" in sa.inspect(make_engine(_url(tmp_path))).get_table_names()
    dropped = runner.invoke(app, ["db", "downgrade", "base", "--yes", *url])
    assert dropped.exit_code == 0, dropped.output
    assert sa.inspect(make_engine(_url(tmp_path))).get_table_names() == ["tillit_alembic_version"]


def test_db_upgrade_sql_prints_the_ddl_without_touching_the_database(tmp_path: Path) -> None:
    printed = runner.invoke(
        app, ["db", "upgrade", "--sql", "--database-url", "postgresql+psycopg://u@nowhere/db"]
    )
    assert printed.exit_code == 0, printed.output
    assert "CREATE TABLE audit_log" in printed.output
    assert "JSONB" in printed.output
