"""Tillit's own lineage store: OpenLineage run events and the dataset and column edges in them."""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Dialect, Engine

from contracts.sqlite_direct import BoundRows, bind_rows, insert_bound, insert_row, insert_rows
from contracts.store import metadata, sqlite_writer, upsert_insert

LineageEvent = Mapping[str, Any]

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
# JSONB on PostgreSQL: smaller, and queryable should a facet ever need to be searched.
PAYLOAD = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIME = sa.DateTime(timezone=True)

lineage_events = sa.Table(
    "lineage_events",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("parent_run_id", sa.Text),
    sa.Column("event_type", sa.Text),
    sa.Column("event_time", _TIME, nullable=False),
    sa.Column("job_namespace", sa.Text, nullable=False),
    sa.Column("job_name", sa.Text, nullable=False),
    sa.Column("payload", PAYLOAD, nullable=False),
    sa.Column("recorded_at", _TIME, nullable=False),
    sa.Index("ix_lineage_events_run_id", "run_id"),
    sa.Index("ix_lineage_events_parent_run_id", "parent_run_id"),
    sa.Index("ix_lineage_events_job", "job_namespace", "job_name", "event_time"),
    sa.Index("ix_lineage_events_event_time", "event_time"),
    comment="Every OpenLineage run event received, once each (event_id is its identity hash).",
)


def _event_edge_columns() -> list[sa.Column[Any]]:
    """The columns every per-event edge table starts with: its id, event and run."""
    return [
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "event_id",
            sa.String(64),
            sa.ForeignKey("lineage_events.event_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("run_id", sa.Text, nullable=False),
    ]


lineage_dataset_edges = sa.Table(
    "lineage_dataset_edges",
    metadata,
    *_event_edge_columns(),
    sa.Column("event_type", sa.Text),
    sa.Column("job_namespace", sa.Text, nullable=False),
    sa.Column("job_name", sa.Text, nullable=False),
    sa.Column("direction", sa.String(6), nullable=False),
    sa.Column("dataset_namespace", sa.Text, nullable=False),
    sa.Column("dataset_name", sa.Text, nullable=False),
    sa.Column("event_time", _TIME, nullable=False),
    sa.CheckConstraint("direction IN ('input', 'output')", name="ck_lineage_dataset_direction"),
    sa.Index(
        "ix_lineage_dataset_edges_dataset",
        "dataset_namespace",
        "dataset_name",
        "direction",
        "event_time",
    ),
    sa.Index("ix_lineage_dataset_edges_run", "run_id", "direction"),
    sa.Index("ix_lineage_dataset_edges_event_time", "event_time"),
    comment="A run read (input) or wrote (output) a dataset, as one event reported it.",
)

lineage_column_edges = sa.Table(
    "lineage_column_edges",
    metadata,
    *_event_edge_columns(),
    sa.Column("output_namespace", sa.Text, nullable=False),
    sa.Column("output_name", sa.Text, nullable=False),
    # NULL: the input affects the output dataset as a whole (a filter or join key).
    sa.Column("output_field", sa.Text),
    sa.Column("input_namespace", sa.Text, nullable=False),
    sa.Column("input_name", sa.Text, nullable=False),
    sa.Column("input_field", sa.Text, nullable=False),
    sa.Column("transformations", sa.JSON, nullable=False),
    sa.Column("event_time", _TIME, nullable=False),
    sa.Index(
        "ix_lineage_column_edges_output",
        "output_namespace",
        "output_name",
        "output_field",
        "event_time",
    ),
    sa.Index(
        "ix_lineage_column_edges_input",
        "input_namespace",
        "input_name",
        "input_field",
        "event_time",
    ),
    sa.Index("ix_lineage_column_edges_run", "run_id"),
    comment="An output field derived from an input field, from the columnLineage facet.",
)

# The graph queries read these: each distinct edge once, however many runs reported it, so a
# graph over a million shares costs as much as a graph over one.
lineage_graph_edges = sa.Table(
    "lineage_graph_edges",
    metadata,
    sa.Column("job_name", sa.Text, primary_key=True),
    sa.Column("direction", sa.String(6), primary_key=True),
    sa.Column("dataset_namespace", sa.Text, primary_key=True),
    sa.Column("dataset_name", sa.Text, primary_key=True),
    sa.Column("first_seen", _TIME, nullable=False),
    sa.Column("last_seen", _TIME, nullable=False),
    sa.Index("ix_lineage_graph_edges_dataset", "dataset_namespace", "dataset_name", "direction"),
    comment="Each distinct job-dataset edge once, with when it was first and last reported.",
)

lineage_graph_fields = sa.Table(
    "lineage_graph_fields",
    metadata,
    sa.Column("output_namespace", sa.Text, primary_key=True),
    sa.Column("output_name", sa.Text, primary_key=True),
    sa.Column("output_field", sa.Text, primary_key=True),
    sa.Column("input_namespace", sa.Text, primary_key=True),
    sa.Column("input_name", sa.Text, primary_key=True),
    sa.Column("input_field", sa.Text, primary_key=True),
    sa.Column("first_seen", _TIME, nullable=False),
    sa.Column("last_seen", _TIME, nullable=False),
    comment="Each distinct field-to-field edge once, with when it was first and last reported.",
)


def event_time_utc(event: LineageEvent) -> datetime:
    """The event's time in UTC; a time without an offset is taken as UTC rather than refused."""
    parsed = datetime.fromisoformat(str(event["eventTime"]))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def event_id(event: LineageEvent) -> str:
    """Identity of a run event: the same run, state, time and job is the same event."""
    # Hashing the identity rather than the serialised payload keeps the id stable when the same
    # event is serialised again (key order, time zone, facets a client adds on the way).
    try:
        run, job = event["run"], event["job"]
        identity = [
            str(run["runId"]),
            str(event.get("eventType") or ""),
            event_time_utc(event).isoformat(),
            str(job["namespace"]),
            str(job["name"]),
        ]
    except (KeyError, TypeError) as error:
        raise ValueError(f"not an OpenLineage run event: missing {error}") from error
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def _parent_run_id(run: Mapping[str, Any]) -> str | None:
    parent = (run.get("facets") or {}).get("parent") or {}
    parent_run = parent.get("run") or {}
    run_id = parent_run.get("runId")
    return str(run_id) if run_id else None


def _dataset_edges(event: LineageEvent, base: dict[str, Any]) -> list[dict[str, Any]]:
    edges = []
    for direction, key in (("input", "inputs"), ("output", "outputs")):
        for dataset in event.get(key) or []:
            edges.append(
                {
                    **base,
                    "event_type": event.get("eventType"),
                    "job_namespace": event["job"]["namespace"],
                    "job_name": event["job"]["name"],
                    "direction": direction,
                    "dataset_namespace": dataset["namespace"],
                    "dataset_name": dataset["name"],
                }
            )
    return edges


def _input_field_edges(
    base: dict[str, Any], output: Mapping[str, Any], field: str | None, sources: Sequence[Any]
) -> list[dict[str, Any]]:
    return [
        {
            **base,
            "output_namespace": output["namespace"],
            "output_name": output["name"],
            "output_field": field,
            "input_namespace": source["namespace"],
            "input_name": source["name"],
            "input_field": source["field"],
            "transformations": source.get("transformations") or [],
        }
        for source in sources
    ]


def _column_edges(event: LineageEvent, base: dict[str, Any]) -> list[dict[str, Any]]:
    edges = []
    for output in event.get("outputs") or []:
        facet = (output.get("facets") or {}).get("columnLineage") or {}
        for field, derivation in (facet.get("fields") or {}).items():
            sources = derivation.get("inputFields") or []
            edges.extend(_input_field_edges(base, output, field, sources))
        edges.extend(_input_field_edges(base, output, None, facet.get("dataset") or []))
    return edges


class LineageStore:
    """Records run events with their dataset and column edges, each event once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, event: LineageEvent, *, now: datetime | None = None) -> bool:
        """Store an event and its edges in one transaction; False if it was already stored."""
        with sqlite_writer(self.engine), self.engine.begin() as conn:
            return record_in(conn, event, now=now)


def record_in(conn: Connection, event: LineageEvent, *, now: datetime | None = None) -> bool:
    """Store an event and its edges in the caller's transaction; False if already stored."""
    return record_many(conn, [event], now=now) == 1


def record_many(
    conn: Connection,
    events: Sequence[LineageEvent],
    *,
    now: datetime | None = None,
    ids: Sequence[str] | None = None,
) -> int:
    """Store events and their edges in the caller's transaction, each event once; how many
    were new. The edges of a batch are written together, one statement per table.

    ``ids``: the events' ``event_id``s where the caller already holds them (the outbox keeps
    each event's id beside it).
    """
    recorded_at = (now or datetime.now(UTC)).astimezone(UTC)
    dataset_edges: list[dict[str, Any]] = []
    column_edges: list[dict[str, Any]] = []
    new = 0
    for event, identity in zip(events, _identities(events, ids), strict=True):
        row = _event_row(event, identity, recorded_at)
        if not insert_row(conn, lineage_events, row, ignore_duplicate="event_id"):
            continue
        new += 1
        _add_edges(event, row, dataset_edges, column_edges)
    if dataset_edges:
        insert_rows(conn, lineage_dataset_edges, dataset_edges)
        _upsert_seen(conn, lineage_graph_edges, _seen(lineage_graph_edges, dataset_edges))
    if column_edges:
        insert_rows(conn, lineage_column_edges, column_edges)
        fields = _seen(lineage_graph_fields, _field_edges(column_edges))
        _upsert_seen(conn, lineage_graph_fields, fields)
    return new


class AlreadyStored(Exception):
    """An event of a prepared batch was in the store already (`write_prepared`)."""


@dataclass(frozen=True)
class PreparedEvents:
    """A batch of events made into the rows that store them, before the transaction that
    writes them (`prepare_events`): their store rows and edges, bound for the driver, and the
    graph's edges. Making them is most of the work of storing a batch, and needs no lock."""

    count: int
    events: BoundRows
    dataset_edges: BoundRows
    column_edges: BoundRows
    graph_edges: list[dict[str, Any]]
    graph_fields: list[dict[str, Any]]


def prepare_events(
    dialect: Dialect,
    events: Sequence[LineageEvent],
    *,
    now: datetime | None = None,
    ids: Sequence[str] | None = None,
) -> PreparedEvents:
    """The rows storing `events` on a database of `dialect`, as `record_many` would write
    them were every event new; ``ids`` as there."""
    recorded_at = (now or datetime.now(UTC)).astimezone(UTC)
    rows: list[dict[str, Any]] = []
    dataset_edges: list[dict[str, Any]] = []
    column_edges: list[dict[str, Any]] = []
    for event, identity in zip(events, _identities(events, ids), strict=True):
        row = _event_row(event, identity, recorded_at)
        rows.append(row)
        _add_edges(event, row, dataset_edges, column_edges)
    return PreparedEvents(
        count=len(rows),
        events=bind_rows(dialect, lineage_events, rows, ignore_duplicate="event_id"),
        dataset_edges=bind_rows(dialect, lineage_dataset_edges, dataset_edges),
        column_edges=bind_rows(dialect, lineage_column_edges, column_edges),
        graph_edges=_seen(lineage_graph_edges, dataset_edges),
        graph_fields=_seen(lineage_graph_fields, _field_edges(column_edges)),
    )


def write_prepared(conn: Connection, prepared: PreparedEvents) -> None:
    """Write a prepared batch in the caller's transaction.

    Raises AlreadyStored, with the batch's events written but none of their edges, if any
    event was stored already: the caller rolls the transaction back and stores the batch
    event by event (`record_many`), which skips what is there."""
    if insert_bound(conn, prepared.events) != prepared.count:
        raise AlreadyStored("an event of the batch is stored already")
    insert_bound(conn, prepared.dataset_edges)
    insert_bound(conn, prepared.column_edges)
    _upsert_seen(conn, lineage_graph_edges, prepared.graph_edges)
    _upsert_seen(conn, lineage_graph_fields, prepared.graph_fields)


def _identities(events: Sequence[LineageEvent], ids: Sequence[str] | None) -> Sequence[str]:
    if ids is None:
        return [event_id(event) for event in events]
    if len(ids) != len(events):
        raise ValueError(f"{len(ids)} event ids for {len(events)} events")
    return ids


def _event_row(event: LineageEvent, identity: str, recorded_at: datetime) -> dict[str, Any]:
    run, job = event["run"], event["job"]
    return {
        "event_id": identity,
        "run_id": str(run["runId"]),
        "parent_run_id": _parent_run_id(run),
        "event_type": event.get("eventType"),
        "event_time": event_time_utc(event),
        "job_namespace": str(job["namespace"]),
        "job_name": str(job["name"]),
        "payload": dict(event),
        "recorded_at": recorded_at,
    }


def _add_edges(
    event: LineageEvent,
    row: Mapping[str, Any],
    dataset_edges: list[dict[str, Any]],
    column_edges: list[dict[str, Any]],
) -> None:
    base = {"event_id": row["event_id"], "run_id": row["run_id"], "event_time": row["event_time"]}
    dataset_edges += _dataset_edges(event, base)
    column_edges += _column_edges(event, base)


def _field_edges(column_edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [edge for edge in column_edges if edge["output_field"] is not None]


def _seen(table: sa.Table, edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each distinct edge of a graph table once, with the window of its events' times."""
    keys = [column.name for column in table.primary_key.columns]
    key_of = operator.itemgetter(*keys)
    seen: dict[tuple[Any, ...], tuple[datetime, datetime]] = {}
    for edge in edges:
        key, when = key_of(edge), edge["event_time"]
        window = seen.get(key)
        if window is None:
            seen[key] = (when, when)
        elif when < window[0] or when > window[1]:
            seen[key] = (min(window[0], when), max(window[1], when))
    return [
        {**dict(zip(keys, key, strict=True)), "first_seen": first, "last_seen": last}
        for key, (first, last) in seen.items()
    ]


def _upsert_seen(conn: Connection, table: sa.Table, values: list[dict[str, Any]]) -> None:
    """Record each distinct edge once, widening its first/last-seen window to its events' times."""
    if values:
        conn.execute(_upsert_statement(conn.dialect.name, table), values)


@functools.cache
def _upsert_statement(dialect: str, table: sa.Table) -> Any:
    """INSERT of a graph edge that widens an existing edge's window (built once per table)."""
    keys = [column.name for column in table.primary_key.columns]
    postgres = dialect == "postgresql"
    insert = upsert_insert(dialect, table)
    # Two-argument least/greatest on PostgreSQL; SQLite's scalar min/max do the same.
    earliest: Any = sa.func.least if postgres else sa.func.min
    latest: Any = sa.func.greatest if postgres else sa.func.max
    return insert.on_conflict_do_update(
        index_elements=keys,
        set_={
            "first_seen": earliest(table.c.first_seen, insert.excluded.first_seen),
            "last_seen": latest(table.c.last_seen, insert.excluded.last_seen),
        },
    )
