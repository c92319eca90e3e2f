"""The migrations build exactly the tables Tillit's code describes, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from contracts.schema_revision import SCHEMA_REVISIONS
from contracts.store import make_engine, metadata
from tillit.migrations import (
    AdoptionError,
    baseline_columns,
    current,
    downgrade,
    head,
    revisions,
    upgrade,
)
from tillit.migrations.metadata import (
    contract_table_names,
    include_object,
    owned_metadata,
    owned_table_names,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tillit.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match the code."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        return list(compare_metadata(context, owned_metadata()))


def tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_head_on_an_empty_database_matches_the_code(engine: Engine) -> None:
    # The comparison sees every table the migrations will have to create...
    missing = {diff[1].name for diff in differences(engine) if diff[0] == "add_table"}
    assert missing == owned_table_names()
    result = upgrade(engine)
    assert (result.before, result.after, result.adopted) == (None, head(), False)
    # ...and afterwards nothing: no table, column, type, index, constraint or comment differs.
    assert differences(engine) == []
    assert tables(engine) == owned_table_names() | {"tillit_alembic_version"}


def test_upgrade_is_idempotent_and_keeps_the_data(engine: Engine) -> None:
    upgrade(engine)
    restrictions = owned_metadata().tables["subject_restrictions"]
    with engine.begin() as conn:
        conn.execute(
            restrictions.insert().values(
                subject_key="k1", kind="objection", recorded_at=datetime.now(UTC)
            )
        )
    again = upgrade(engine)
    assert again.before == again.after == head()
    with engine.connect() as conn:
        assert conn.execute(sa.select(restrictions.c.subject_key)).scalars().all() == ["k1"]
    assert differences(engine) == []


def test_downgrade_to_base_leaves_no_tillit_table(engine: Engine) -> None:
    upgrade(engine)
    result = downgrade(engine, "base")
    assert (result.before, result.after) == (head(), None)
    # Alembic's own bookkeeping table stays, empty; every table Tillit owns is gone.
    assert tables(engine) <= {"tillit_alembic_version"}
    assert current(engine) is None
    assert upgrade(engine).after == head()


def test_a_database_created_before_migrations_is_adopted(engine: Engine) -> None:
    # The tables as they were before migrations began: the baseline's, not later revisions'
    # (built by the baseline revision, then left without a migration history).
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE tillit_alembic_version"))
        conn.execute(
            owned_metadata()
            .tables["subject_restrictions"]
            .insert()
            .values(subject_key="k2", kind="restriction", recorded_at=datetime.now(UTC))
        )
    assert current(engine) is None and set(baseline_columns()) <= tables(engine)
    result = upgrade(engine)
    assert (result.before, result.after, result.adopted) == (None, head(), True)
    assert differences(engine) == []
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT subject_key FROM subject_restrictions")).scalars()
        assert kept.all() == ["k2"]


def test_an_unversioned_database_unlike_the_baseline_is_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, note TEXT)"))
    with pytest.raises(AdoptionError) as refused:
        upgrade(engine)
    message = str(refused.value)
    assert "table audit_checkpoints is missing" in message
    assert "table audit_log has extra columns ['note']" in message
    assert current(engine) is None
    assert "quarantine" not in tables(engine)


def test_the_release_names_every_migration_in_order() -> None:
    assert tuple(revisions()) == SCHEMA_REVISIONS
    assert SCHEMA_REVISIONS[-1] == head()


def _import_everything() -> None:
    for package in ("contracts", "lineage", "broker", "orchestration"):
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, f"{package}."):
            importlib.import_module(module.name)


def test_every_table_the_code_defines_is_migrated(tmp_path: Path) -> None:
    _import_everything()
    defined = set(metadata.tables) - contract_table_names()
    engine = make_engine(f"sqlite:///{tmp_path / 'tillit.db'}")
    upgrade(engine)
    assert defined == tables(engine) - {"tillit_alembic_version"}
    assert not contract_table_names() & tables(engine)
    engine.dispose()


@pytest.mark.postgres
def test_two_concurrent_upgrades_migrate_once(postgres_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine = make_engine(postgres_url)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: upgrade(engine), range(2)))
    engine.dispose()
    # The advisory lock makes the second wait, then find the database at head.
    assert sorted((r.before or "", r.after) for r in results) == [("", head()), (head(), head())]
