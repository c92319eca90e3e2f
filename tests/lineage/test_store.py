"""The lineage store records each run event once, with the dataset and column edges it reports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from openlineage.client import event_v2
from openlineage.client.facet_v2 import column_lineage_dataset, parent_run
from openlineage.client.serde import Serde
from sqlalchemy.engine import Engine

from contracts.store import make_engine
from lineage.store import (
    AlreadyStored,
    LineageStore,
    event_id,
    lineage_column_edges,
    lineage_dataset_edges,
    lineage_events,
    lineage_graph_edges,
    lineage_graph_fields,
    prepare_events,
    record_many,
    write_prepared,
)
from tests.schema import prepare_store

POPULATION = "legacy://population-register"
STORE = "tillit://store"
PRODUCER = "https://github.com/tillit-fi/tillit"
T0 = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)

Source = tuple[str, str, str]


class FakeClock:
    """A clock the test moves by hand (seconds since the epoch, like the broker's)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds

    def at(self) -> datetime:
        """The current time as an aware datetime."""
        return datetime.fromtimestamp(self.now, tz=UTC)


def lineage_engine(path: Path) -> Engine:
    """A file SQLite store with the whole schema, lineage tables included."""
    engine = make_engine(f"sqlite:///{path / 'tillit.db'}")
    prepare_store(engine)
    return engine


def _column_lineage(fields: Mapping[str, Sequence[Source]]) -> dict[str, Any]:
    facet = column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            name: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(namespace=ns, name=ds, field=field)
                    for ns, ds, field in sources
                ]
            )
            for name, sources in fields.items()
        }
    )
    return {"columnLineage": facet}


def run_event(  # noqa: PLR0913  (a builder: every argument is a keyword with a default)
    *,
    job: str = "load.residents",
    run_id: str | None = None,
    event_type: event_v2.RunState = event_v2.RunState.COMPLETE,
    event_time: datetime = T0,
    inputs: Sequence[tuple[str, str]] = ((POPULATION, "persons.csv"),),
    output: tuple[str, str] = (STORE, "residents"),
    columns: Mapping[str, Sequence[Source]] | None = None,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """A run event as the lineage package emits it: built with the client, then serialised."""
    run_facets: dict[str, Any] = {}
    if parent_run_id is not None:
        run_facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent_run_id),
            job=parent_run.Job(namespace="tillit", name="pipeline"),
        )
    event = event_v2.RunEvent(
        eventType=event_type,
        eventTime=event_time.isoformat(),
        producer=PRODUCER,
        run=event_v2.Run(runId=run_id or str(uuid.uuid4()), facets=run_facets),
        job=event_v2.Job(namespace="tillit", name=job),
        inputs=[event_v2.InputDataset(namespace=ns, name=name) for ns, name in inputs],
        outputs=[
            event_v2.OutputDataset(
                namespace=output[0],
                name=output[1],
                facets=_column_lineage(columns) if columns else {},
            )
        ],
    )
    return Serde.to_dict(event)


def share_event(index: int, *, at: datetime = T0) -> dict[str, Any]:
    """A share's COMPLETE event: the store table delivered to a partner."""
    return run_event(
        job="share.residents",
        event_time=at + timedelta(seconds=index),
        inputs=[(STORE, "residents")],
        output=("tillit://partner/lahti-education", "residents"),
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite store."""
    engine = lineage_engine(tmp_path)
    yield engine
    engine.dispose()


def _rows(engine: Engine, table: sa.Table) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.select(table).order_by(table.c[0]))]


def test_an_event_delivered_twice_is_stored_once(engine: Engine) -> None:
    store = LineageStore(engine)
    event = run_event(columns={"district": [(POPULATION, "persons.csv", "postal_code")]})

    assert store.record(event) is True
    assert store.record(event) is False

    assert len(_rows(engine, lineage_events)) == 1
    assert len(_rows(engine, lineage_dataset_edges)) == 2
    assert len(_rows(engine, lineage_column_edges)) == 1


def test_a_batch_stores_what_the_events_one_by_one_store(tmp_path: Path) -> None:
    columns = {"district": [(POPULATION, "persons.csv", "postal_code")]}
    events = [share_event(index, at=T0 + timedelta(hours=index)) for index in (3, 1, 2)]
    events += [run_event(columns=columns), events[0]]
    one_by_one, batched = lineage_engine(tmp_path / "one"), lineage_engine(tmp_path / "batch")
    store = LineageStore(one_by_one)
    assert [store.record(event, now=T0) for event in events] == [True] * 4 + [False]
    with batched.begin() as conn:
        assert record_many(conn, events, now=T0) == 4
    tables = (lineage_events, lineage_dataset_edges, lineage_column_edges)
    for table in (*tables, lineage_graph_edges, lineage_graph_fields):
        key = [column.name for column in table.primary_key.columns]
        rows = [_rows(engine, table) for engine in (one_by_one, batched)]
        if table not in tables:  # the graph: one row per edge, its window over all events
            assert rows[0] == rows[1], table.name
        else:
            assert sorted(str(r.get(key[0])) for r in rows[0]) == sorted(
                str(r.get(key[0])) for r in rows[1]
            ), table.name
    # The shares' edges were seen from the earliest share's time to the latest's.
    shares = [
        row for row in _rows(batched, lineage_graph_edges) if row["job_name"] == "share.residents"
    ]
    start, end = T0 + timedelta(hours=1, seconds=1), T0 + timedelta(hours=3, seconds=3)
    windows = {(row["first_seen"], row["last_seen"]) for row in shares}
    assert windows == {(start.replace(tzinfo=None), end.replace(tzinfo=None))}


ALL_TABLES = (
    lineage_events,
    lineage_dataset_edges,
    lineage_column_edges,
    lineage_graph_edges,
    lineage_graph_fields,
)


def _contents(engine: Engine, table: sa.Table) -> list[str]:
    """A table's rows without their surrogate ids, in a stable order."""
    return sorted(repr({k: v for k, v in row.items() if k != "id"}) for row in _rows(engine, table))


def _mixed_events() -> list[dict[str, Any]]:
    columns = {
        "district": [(POPULATION, "persons.csv", "postal_code")],
        "birth_date": [(POPULATION, "persons.csv", "hetu"), (POPULATION, "persons.csv", "born")],
    }
    events = [share_event(index, at=T0 + timedelta(hours=index)) for index in (3, 1, 2)]
    return [*events, run_event(columns=columns, parent_run_id=str(uuid.uuid4()))]


def test_a_prepared_batch_stores_what_record_many_stores(tmp_path: Path) -> None:
    events = _mixed_events()
    recorded, prepared = lineage_engine(tmp_path / "one"), lineage_engine(tmp_path / "two")
    with recorded.begin() as conn:
        assert record_many(conn, events, now=T0) == len(events)
    batch = prepare_events(prepared.dialect, events, now=T0)
    assert batch.count == len(events)
    with prepared.begin() as conn:
        write_prepared(conn, batch)
    for table in ALL_TABLES:
        assert _contents(prepared, table) == _contents(recorded, table), table.name
    assert len(_rows(prepared, lineage_column_edges)) == 3


def test_a_prepared_batch_with_an_event_stored_already_is_refused(engine: Engine) -> None:
    events = _mixed_events()
    assert LineageStore(engine).record(events[1]) is True
    before = {table.name: _contents(engine, table) for table in ALL_TABLES}
    batch = prepare_events(engine.dialect, events, now=T0)
    with pytest.raises(AlreadyStored), engine.begin() as conn:
        write_prepared(conn, batch)
    assert {table.name: _contents(engine, table) for table in ALL_TABLES} == before


def test_dataset_edges_name_the_run_job_direction_and_time(engine: Engine) -> None:
    run_id, parent = str(uuid.uuid4()), str(uuid.uuid4())
    local = T0.astimezone(timezone(timedelta(hours=2)))
    LineageStore(engine).record(run_event(run_id=run_id, parent_run_id=parent, event_time=local))

    (event,) = _rows(engine, lineage_events)
    assert (event["run_id"], event["parent_run_id"]) == (run_id, parent)
    assert (event["event_type"], event["job_namespace"], event["job_name"]) == (
        "COMPLETE",
        "tillit",
        "load.residents",
    )
    edges = {
        (edge["direction"], edge["dataset_namespace"], edge["dataset_name"])
        for edge in _rows(engine, lineage_dataset_edges)
    }
    assert edges == {("input", POPULATION, "persons.csv"), ("output", STORE, "residents")}
    # Stored in UTC whatever offset the producer wrote.
    times = {
        edge["event_time"].replace(tzinfo=UTC) for edge in _rows(engine, lineage_dataset_edges)
    }
    assert times == {T0}


def test_column_edges_trace_each_contract_field_to_its_source_fields(engine: Engine) -> None:
    columns = {
        "person_id": [(POPULATION, "persons.csv", "hetu")],
        "district": [(POPULATION, "persons.csv", "postal_code"), (POPULATION, "zones.csv", "zone")],
    }
    LineageStore(engine).record(run_event(columns=columns))

    edges = {
        (edge["output_field"], edge["input_name"], edge["input_field"])
        for edge in _rows(engine, lineage_column_edges)
    }
    assert edges == {
        ("person_id", "persons.csv", "hetu"),
        ("district", "persons.csv", "postal_code"),
        ("district", "zones.csv", "zone"),
    }
    assert {edge["output_name"] for edge in _rows(engine, lineage_column_edges)} == {"residents"}


def test_dataset_wide_dependencies_are_edges_without_an_output_field(engine: Engine) -> None:
    event = run_event()
    event["outputs"][0]["facets"]["columnLineage"] = {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
        "fields": {},
        "dataset": [
            {
                "namespace": POPULATION,
                "name": "persons.csv",
                "field": "deceased",
                "transformations": [{"type": "INDIRECT", "subtype": "FILTER"}],
            }
        ],
    }
    LineageStore(engine).record(event)

    (edge,) = _rows(engine, lineage_column_edges)
    assert (edge["output_field"], edge["input_field"]) == (None, "deceased")
    assert edge["transformations"] == [{"type": "INDIRECT", "subtype": "FILTER"}]


def test_start_and_complete_of_one_run_are_two_events(engine: Engine) -> None:
    store = LineageStore(engine)
    run_id = str(uuid.uuid4())
    assert store.record(run_event(run_id=run_id, event_type=event_v2.RunState.START))
    assert store.record(run_event(run_id=run_id, event_time=T0 + timedelta(seconds=3)))
    events = sorted(_rows(engine, lineage_events), key=lambda row: row["event_time"])
    assert [row["event_type"] for row in events] == ["START", "COMPLETE"]


def test_event_id_ignores_serialisation_details_but_not_identity() -> None:
    event = run_event()
    reordered = dict(reversed(list(event.items())))
    with_client_facet = {**event, "run": {**event["run"], "facets": {"tags": {"x": 1}}}}
    assert event_id(reordered) == event_id(event) == event_id(with_client_facet)
    assert event_id({**event, "eventType": "FAIL"}) != event_id(event)
    assert event_id({**event, "job": {"namespace": "tillit", "name": "other"}}) != event_id(event)


@given(offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_event_id_is_the_same_in_every_time_zone(offset_minutes: int) -> None:
    run_id = "01a208dc-93e7-7a27-80df-e37ce40d6c71"
    zone = timezone(timedelta(minutes=offset_minutes))
    here = run_event(run_id=run_id, event_time=T0.astimezone(zone))
    assert event_id(here) == event_id(run_event(run_id=run_id))


def test_an_event_without_a_run_is_refused(engine: Engine) -> None:
    event = run_event()
    del event["run"]
    with pytest.raises(ValueError, match="not an OpenLineage run event"):
        LineageStore(engine).record(event)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (
            "SELECT run_id FROM lineage_dataset_edges WHERE dataset_namespace = 'tillit://store'"
            " AND dataset_name = 'residents' AND direction = 'output' AND event_time <= '2027'",
            "ix_lineage_dataset_edges_dataset",
        ),
        (
            "SELECT dataset_name FROM lineage_dataset_edges WHERE run_id = 'r'"
            " AND direction = 'input'",
            "ix_lineage_dataset_edges_run",
        ),
        (
            "SELECT input_field FROM lineage_column_edges WHERE output_namespace = 'tillit://store'"
            " AND output_name = 'residents' AND output_field = 'district'",
            "ix_lineage_column_edges_output",
        ),
        (
            "SELECT output_field FROM lineage_column_edges WHERE input_namespace = 'legacy://x'"
            " AND input_name = 'persons.csv' AND input_field = 'hetu'",
            "ix_lineage_column_edges_input",
        ),
        ("SELECT payload FROM lineage_events WHERE run_id = 'r'", "ix_lineage_events_run_id"),
    ],
)
def test_lineage_queries_are_answered_from_an_index(engine: Engine, query: str, index: str) -> None:
    with engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))
    assert index in plan


@pytest.mark.postgres
def test_postgresql_stores_each_event_once(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    prepare_store(engine)
    store = LineageStore(engine)
    event = run_event(columns={"district": [(POPULATION, "persons.csv", "postal_code")]})

    assert [store.record(event), store.record(event)] == [True, False]
    (row,) = _rows(engine, lineage_events)
    assert row["payload"] == event
    assert len(_rows(engine, lineage_column_edges)) == 1
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_stores_a_prepared_batch_as_record_many_does(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    prepare_store(engine)
    events = _mixed_events()
    assert LineageStore(engine).record(events[0]) is True
    with pytest.raises(AlreadyStored), engine.begin() as conn:
        write_prepared(conn, prepare_events(engine.dialect, events, now=T0))
    assert len(_rows(engine, lineage_events)) == 1
    with engine.begin() as conn:
        write_prepared(conn, prepare_events(engine.dialect, events[1:], now=T0))
    assert len(_rows(engine, lineage_events)) == len(events)
    assert len(_rows(engine, lineage_column_edges)) == 3
    assert len(_rows(engine, lineage_dataset_edges)) == 2 * len(events)
    engine.dispose()
