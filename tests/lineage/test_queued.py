"""Queued events stored by SQLite itself are stored exactly as `record_many` stores them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from contracts.registry import get_contract
from contracts.store import make_engine, metadata
from lineage.events import share_complete_dict
from lineage.outbox import enqueue, lineage_outbox
from lineage.queued import record_queued
from lineage.store import (
    lineage_column_edges,
    lineage_dataset_edges,
    lineage_events,
    lineage_graph_edges,
    lineage_graph_fields,
    record_many,
)
from tests.lineage.test_store import POPULATION, STORE, T0, run_event

TABLES = (
    lineage_events,
    lineage_dataset_edges,
    lineage_column_edges,
    lineage_graph_edges,
    lineage_graph_fields,
)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Callable[[], tuple[Engine, Engine]]]:
    """Pairs of fresh stores given the same events: one through the outbox and SQLite, one
    through record_many (the lineage tables only, made from the code's metadata)."""
    engines: list[Engine] = []

    def pair() -> tuple[Engine, Engine]:
        made = []
        for _ in range(2):
            engine = make_engine(f"sqlite:///{tmp_path / uuid.uuid4().hex}.db")
            metadata.create_all(engine, tables=[lineage_outbox, *TABLES])
            made.append(engine)
        engines.extend(made)
        return made[0], made[1]

    yield pair
    for engine in engines:
        engine.dispose()


def _contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: conn.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            for table in TABLES
        }


def _queued_id(conn: sa.Connection, identity: str) -> int:
    query = sa.select(lineage_outbox.c.id).where(lineage_outbox.c.event_id == identity)
    return int(conn.execute(query).scalar_one())


times = st.builds(
    lambda day, micro, minutes: (
        (T0 + timedelta(days=day))
        .replace(microsecond=micro)
        .astimezone(timezone(timedelta(minutes=minutes)))
    ),
    st.integers(-400, 400),
    st.one_of(st.just(0), st.integers(0, 999_999)),
    st.sampled_from([0, 120, 180, -300, 330, 545, -570]),
)
names = st.sampled_from(["persons", "children", "residents.csv", "päiväkoti", 'a "quoted" name'])
sources = st.lists(
    st.tuples(st.sampled_from([STORE, POPULATION]), names, names), min_size=1, max_size=2
)


@st.composite
def pipeline_events(draw: st.DrawFn) -> dict[str, Any]:
    event = run_event(
        job=draw(st.sampled_from(["pipeline.persons", "pipeline.children"])),
        event_type=draw(st.sampled_from(["START", "COMPLETE", "FAIL"])),
        event_time=draw(times),
        inputs=draw(st.lists(st.tuples(st.just(POPULATION), names), max_size=3)),
        output=(STORE, draw(names)),
        columns=draw(st.dictionaries(names, sources, max_size=3)),
        parent_run_id=draw(st.one_of(st.none(), st.just(str(uuid.uuid4())))),
    )
    if draw(st.booleans()):
        # Inputs of the output as a whole (a filter or a join key), with a transformation.
        facets = event["outputs"][0]["facets"]
        facet = facets.setdefault("columnLineage", {"fields": {}})
        facet["dataset"] = [
            {
                "namespace": namespace,
                "name": name,
                "field": field,
                "transformations": [{"type": "INDIRECT", "subtype": "FILTER"}],
            }
            for namespace, name, field in draw(sources)
        ]
    return event


@st.composite
def share_events(draw: st.DrawFn) -> dict[str, Any]:
    contract = get_contract("persons")
    released = draw(
        st.lists(st.sampled_from(contract.field_names), min_size=1, max_size=4, unique=True)
    )
    transforms = {name: draw(st.sampled_from(["keep", "pseudonymise"])) for name in released}
    return share_complete_dict(
        share_id=str(uuid.uuid4()),
        contract=contract,
        partner=draw(st.sampled_from(["lahti-education", "phhyky-family-services"])),
        purpose="population_information",
        legal_basis="population_information_act_661_2009",
        agreement_id="bench-population-bulk",
        agreement_version="1.0.0",
        fields_released=released,
        withheld=[],
        transforms=transforms,
        audit_seq=draw(st.integers(1, 10**6)),
        audit_hash="ab" * 32,
        row_count=draw(st.integers(0, 1000)),
        event_time=draw(times),
    )


events = st.lists(st.one_of(pipeline_events(), share_events()), min_size=1, max_size=8)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(batches=st.lists(events, min_size=1, max_size=3), repeat=st.booleans())
def test_sqlite_stores_queued_events_as_record_many_does(
    stores: Callable[[], tuple[Engine, Engine]], batches: list[list[dict[str, Any]]], repeat: bool
) -> None:
    queued, direct = stores()
    now = datetime.now(UTC)
    if repeat:  # an event queued again, in a later batch, is stored once
        batches = [*batches, batches[0][:1]]
    for batch in batches:
        with queued.begin() as conn:
            ids = {_queued_id(conn, enqueue(conn, event, now)) for event in batch}
            stored = record_queued(conn, sorted(ids), now)
        with direct.begin() as conn:
            assert stored == record_many(conn, batch, now=now)
    stored_queued, stored_direct = _contents(queued), _contents(direct)
    for table in TABLES:
        assert stored_queued[table.name] == stored_direct[table.name], table.name


def test_a_time_sqlite_could_read_otherwise_leaves_the_batch_to_python(
    stores: Callable[[], tuple[Engine, Engine]],
) -> None:
    queued, _ = stores()
    odd = run_event(event_time=T0)
    odd["eventTime"] = "2026-03-02T08:15:00.5+00:00"  # fewer than six digits of a fraction
    with queued.begin() as conn:
        queued_id = _queued_id(conn, enqueue(conn, odd, T0))
        assert record_queued(conn, [queued_id], T0) is None
        stored = sa.select(sa.func.count()).where(lineage_events.c.run_id == odd["run"]["runId"])
        assert conn.execute(stored).scalar_one() == 0
