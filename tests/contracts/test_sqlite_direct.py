"""Rows sent straight to sqlite3 are stored exactly as SQLAlchemy's own insert stores them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.sqlite_direct import execute_first, first_row, insert_row, insert_rows
from contracts.store import make_engine, upsert_insert

_metadata = sa.MetaData()


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("key", sa.Text, unique=True),
        sa.Column("doc", sa.JSON),
        sa.Column("at", sa.DateTime(timezone=True)),
        sa.Column("day", sa.Date),
        sa.Column("blob", sa.LargeBinary),
        sa.Column("flag", sa.Boolean),
        sa.Column("amount", sa.Float),
    ]


DIRECT = sa.Table("direct_rows", _metadata, *_columns())
EXECUTED = sa.Table("executed_rows", _metadata, *_columns())
DEFAULTED = sa.Table(
    "defaulted_rows",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("made", sa.Text, default="by sqlalchemy"),
)

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)
_ROWS = st.fixed_dictionaries(
    {
        "key": st.none() | st.text(max_size=8),
        "doc": _JSON | st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
        "at": st.none()
        | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))])),
        "day": st.none() | st.dates(),
        "blob": st.none() | st.binary(max_size=16),
        "flag": st.none() | st.booleans(),
        "amount": st.none() | st.floats(allow_nan=False, allow_infinity=False),
    }
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> sa.Engine:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('direct') / 'store.db'}")
    _metadata.create_all(engine)
    return engine


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=_ROWS, row_id=st.integers(min_value=1, max_value=2**40))
def test_a_row_reads_back_as_the_sqlalchemy_insert_stores_it(
    engine: sa.Engine, row: dict[str, Any], row_id: int
) -> None:
    row = {"id": row_id, **row}
    with engine.begin() as conn:
        conn.execute(DIRECT.delete())
        conn.execute(EXECUTED.delete())
        assert insert_row(conn, DIRECT, row)
        conn.execute(EXECUTED.insert(), row)
    with engine.connect() as conn:
        direct = conn.execute(sa.select(DIRECT)).one()
        executed = conn.execute(sa.select(EXECUTED)).one()
        raw_direct = conn.exec_driver_sql("SELECT * FROM direct_rows").one()
        raw_executed = conn.exec_driver_sql("SELECT * FROM executed_rows").one()
    assert tuple(direct) == tuple(executed)
    # The very text and bytes SQLite holds, not only what they read back as.
    assert tuple(raw_direct) == tuple(raw_executed)


@pytest.mark.parametrize("doc", [[True], [1], ["a", {"b": 1}], ["1", "2"]])
def test_remembered_json_lists_are_never_confused(engine: sa.Engine, doc: list[Any]) -> None:
    with engine.begin() as conn:
        conn.execute(DIRECT.delete())
        insert_row(conn, DIRECT, {"id": 1, "doc": ["x"]})
        insert_row(conn, DIRECT, {"id": 2, "doc": doc})
        stored = conn.execute(sa.select(DIRECT.c.doc).where(DIRECT.c.id == 2)).scalar_one()
    assert stored == doc
    assert [type(item) for item in stored] == [type(item) for item in doc]


def test_times_in_a_batch_are_written_as_sqlalchemy_writes_them(engine: sa.Engine) -> None:
    # The rows of one batch often share one time object; an equal time in another zone is
    # written with its own wall time, as SQLAlchemy writes it.
    when = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    same_instant = when.astimezone(timezone(timedelta(hours=2)))
    times = [when, when, same_instant, None, when, datetime(2026, 1, 2, 10, 0)]
    rows = [{"id": number, "at": at} for number, at in enumerate(times, start=1)]
    with engine.begin() as conn:
        conn.execute(DIRECT.delete())
        conn.execute(EXECUTED.delete())
        insert_rows(conn, DIRECT, rows)
        conn.execute(EXECUTED.insert(), rows)
    with engine.connect() as conn:
        direct = conn.exec_driver_sql("SELECT id, at FROM direct_rows ORDER BY id").all()
        executed = conn.exec_driver_sql("SELECT id, at FROM executed_rows ORDER BY id").all()
    assert [tuple(row) for row in direct] == [tuple(row) for row in executed]
    assert direct[2].at != direct[0].at


def test_a_row_of_one_column_and_a_row_of_other_columns(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(DIRECT.delete())
        assert insert_row(conn, DIRECT, {"id": 7})
        insert_rows(conn, DIRECT, [{"id": 8}, {"id": 9}])
        with pytest.raises(KeyError):
            insert_row(conn, DIRECT, {"id": 10, "keys": "misspelt"}, ignore_duplicate=None)
        ids = conn.execute(sa.select(DIRECT.c.id).order_by(DIRECT.c.id)).scalars().all()
    assert ids == [7, 8, 9]


def _duplicates_are_skipped(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(DIRECT.delete())
        assert insert_row(conn, DIRECT, {"id": 1, "key": "k", "doc": 1}, ignore_duplicate="key")
        assert not insert_row(conn, DIRECT, {"id": 2, "key": "k", "doc": 2}, ignore_duplicate="key")
        # The transaction is still usable, and the first row is the one kept.
        assert insert_row(conn, DIRECT, {"id": 3, "key": "other"})
    with engine.connect() as conn:
        rows = conn.execute(sa.select(DIRECT.c.id, DIRECT.c.doc).order_by(DIRECT.c.id)).all()
    assert [tuple(row) for row in rows] == [(1, 1), (3, None)]
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        insert_row(conn, DIRECT, {"id": 4, "key": "k"})


def test_a_duplicate_key_is_skipped_on_sqlite(engine: sa.Engine) -> None:
    _duplicates_are_skipped(engine)


@pytest.mark.postgres
def test_a_duplicate_key_is_skipped_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    _metadata.create_all(engine)
    try:
        _duplicates_are_skipped(engine)
        with engine.connect() as conn:
            assert first_row(conn, "", sa.select(sa.func.count()).select_from(DIRECT)) == (2,)
    finally:
        engine.dispose()


def test_first_row_runs_the_same_query_on_sqlite(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(DIRECT.delete())
        insert_row(conn, DIRECT, {"id": 7, "key": "seven"})
        query = sa.select(DIRECT.c.id, DIRECT.c.key)
        assert first_row(conn, "SELECT id, key FROM direct_rows", query) == (7, "seven")
        conn.execute(DIRECT.delete())
        assert first_row(conn, "SELECT id, key FROM direct_rows", query) is None


def test_a_python_side_default_is_never_silently_skipped(engine: sa.Engine) -> None:
    with engine.begin() as conn, pytest.raises(ValueError, match="made"):
        insert_row(conn, DEFAULTED, {"id": 1})


def test_a_read_only_store_drops_the_connection(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    _metadata.create_all(engine)
    engine.dispose()
    reader = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    with reader.connect() as conn:
        with pytest.raises(sa.exc.OperationalError) as raised:
            insert_row(conn, DIRECT, {"id": 1})
        assert isinstance(raised.value.orig, sqlite3.OperationalError)
        assert conn.invalidated
    reader.dispose()


def test_a_date_is_stored_as_sqlalchemy_spells_it(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(DIRECT.delete())
        insert_row(
            conn, DIRECT, {"id": 1, "day": date(2026, 1, 2), "at": datetime(2026, 1, 2, tzinfo=UTC)}
        )
        raw = conn.exec_driver_sql("SELECT day, at FROM direct_rows").one()
    assert tuple(raw) == ("2026-01-02", "2026-01-02 00:00:00.000000")


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_ROWS, max_size=5))
def test_rows_inserted_together_read_back_as_sqlalchemy_stores_them(
    engine: sa.Engine, rows: list[dict[str, Any]]
) -> None:
    rows = [{"id": number, **row, "key": None} for number, row in enumerate(rows, start=1)]
    with engine.begin() as conn:
        conn.execute(DIRECT.delete())
        conn.execute(EXECUTED.delete())
        insert_rows(conn, DIRECT, rows)
        if rows:
            conn.execute(EXECUTED.insert(), rows)
    with engine.connect() as conn:
        direct = conn.exec_driver_sql("SELECT * FROM direct_rows ORDER BY id").all()
        executed = conn.exec_driver_sql("SELECT * FROM executed_rows ORDER BY id").all()
    assert [tuple(row) for row in direct] == [tuple(row) for row in executed]


def test_rows_inserted_together_must_share_their_columns(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="expected"), engine.begin() as conn:
        insert_rows(conn, DIRECT, [{"id": 1, "key": "a"}, {"id": 2}])


@pytest.mark.postgres
def test_rows_inserted_together_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    _metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            insert_rows(conn, DIRECT, [{"id": 1, "doc": [1]}, {"id": 2, "doc": {"a": None}}])
            insert_rows(conn, DIRECT, [])
        with engine.connect() as conn:
            docs = conn.execute(sa.select(DIRECT.c.doc).order_by(DIRECT.c.id)).scalars().all()
        assert docs == [[1], {"a": None}]
    finally:
        engine.dispose()


def _upsert(dialect: str) -> Any:
    insert = upsert_insert(dialect, DIRECT).values(
        id=sa.bindparam("id"), key=sa.bindparam("key"), amount=sa.bindparam("amount")
    )
    return insert.on_conflict_do_update(
        index_elements=[DIRECT.c.id],
        set_={"amount": insert.excluded.amount, "day": date(2026, 3, 4)},
        where=DIRECT.c.amount <= sa.bindparam("ceiling"),
    ).returning(DIRECT.c.id, DIRECT.c.day)


@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_statement_runs_as_sqlalchemy_runs_it(
    store: str, engine: sa.Engine, request: pytest.FixtureRequest
) -> None:
    if store == "postgresql":
        engine = make_engine(request.getfixturevalue("postgres_url"))
        _metadata.create_all(engine)
    statement = _upsert(engine.dialect.name)
    with engine.begin() as conn:
        conn.execute(DIRECT.delete())
        first = {"id": 1, "key": "a", "amount": 1.0, "ceiling": 5.0}
        assert execute_first(conn, statement, first) == (1, None)
        # A conflict the WHERE admits updates (with the statement's own date value) ...
        assert execute_first(conn, statement, first | {"amount": 9.0}) == (1, date(2026, 3, 4))
        # ... one it refuses returns no row.
        assert execute_first(conn, statement, first | {"amount": 2.0}) is None
        stored = conn.execute(sa.select(DIRECT.c.amount, DIRECT.c.day)).one()
    assert tuple(stored) == (9.0, date(2026, 3, 4))
    if store == "postgresql":
        engine.dispose()


def test_a_statement_whose_sql_depends_on_its_values_is_refused(engine: sa.Engine) -> None:
    statement = DIRECT.delete().where(DIRECT.c.id.in_(sa.bindparam("ids", expanding=True)))
    with engine.begin() as conn, pytest.raises(ValueError, match="depends on its values"):
        execute_first(conn, statement, {"ids": [1, 2]})
