"""Queued events stored by SQLite itself: a batch of the outbox into the lineage store beside it.

The shipper of a SQLite database whose lineage store is that same database moves a batch with
a handful of INSERT ... SELECT statements: SQLite copies each event's text, reads its fields
with its JSON functions and derives the dataset and column edges, so no payload is parsed,
built into rows and bound again in Python. What is stored is what `record_many` stores for
the same events (a property test holds the two to each other); an event time SQLite would
read differently leaves the whole batch to `record_many`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_TIME = sa.DateTime(timezone=True)

# The times Python's isoformat writes with an offset, which SQLite reads to the same instant
# (it would also read times Python refuses, and keeps three digits of a fraction, so the six
# digits are taken from the text): with microseconds, or whole seconds.
_DATE_TIME = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]"
_OFFSET = "[+-][0-9][0-9]:[0-9][0-9]"
_MICROS = "." + "[0-9]" * 6
_EVENT_TIME: Final = "json_extract(o.payload, '$.eventTime')"
_READABLE_TIME: Final = (
    f"({_EVENT_TIME} GLOB '{_DATE_TIME}{_MICROS}{_OFFSET}'"
    f" OR {_EVENT_TIME} GLOB '{_DATE_TIME}{_OFFSET}')"
)
# The stored form of a time column (SQLAlchemy's on SQLite): UTC wall time with six digits.
# SQLite is given the time without its fraction, which it would round to milliseconds (and
# 59.9995 seconds up into the next minute).
_WHOLE_SECONDS: Final = f"substr({_EVENT_TIME}, 1, 19) || substr({_EVENT_TIME}, -6)"
_STORED_TIME: Final = (
    f"strftime('%Y-%m-%d %H:%M:%S', {_WHOLE_SECONDS}) || '.' ||"
    f" CASE WHEN length({_EVENT_TIME}) = 32 THEN substr({_EVENT_TIME}, 21, 6)"
    " ELSE '000000' END"
)

_UNREADABLE: Final = sa.text(
    "SELECT count(*) FROM lineage_outbox o"  # noqa: S608 - our own SQL, no input
    f" WHERE o.id IN (SELECT value FROM json_each(:ids)) AND NOT {_READABLE_TIME}"
)

_EVENTS: Final = sa.text(
    "INSERT INTO lineage_events (event_id, run_id, parent_run_id, event_type, event_time,"  # noqa: S608
    " job_namespace, job_name, payload, recorded_at)"
    " SELECT o.event_id, CAST(json_extract(o.payload, '$.run.runId') AS TEXT),"
    " CAST(nullif(json_extract(o.payload, '$.run.facets.parent.run.runId'), '') AS TEXT),"
    " json_extract(o.payload, '$.eventType'),"
    f" {_STORED_TIME},"
    " CAST(json_extract(o.payload, '$.job.namespace') AS TEXT),"
    " CAST(json_extract(o.payload, '$.job.name') AS TEXT),"
    " o.payload, :recorded_at"
    " FROM lineage_outbox o WHERE o.id IN (SELECT value FROM json_each(:ids))"
    " ORDER BY o.id"
    " ON CONFLICT (event_id) DO NOTHING"
    " RETURNING event_id"
).bindparams(sa.bindparam("recorded_at", type_=_TIME))

_NEW_EVENTS: Final = "e.event_id IN (SELECT value FROM json_each(:new))"

_DATASET_EDGES: Final = sa.text(
    "INSERT INTO lineage_dataset_edges (event_id, run_id, event_type, job_namespace,"  # noqa: S608
    " job_name, direction, dataset_namespace, dataset_name, event_time)"
    " SELECT event_id, run_id, event_type, job_namespace, job_name, direction,"
    " dataset_namespace, dataset_name, event_time FROM ("
    " SELECT e.event_id, e.run_id, e.event_type, e.job_namespace, e.job_name,"
    " side.direction, json_extract(d.value, '$.namespace') AS dataset_namespace,"
    " json_extract(d.value, '$.name') AS dataset_name, e.event_time,"
    " e.rowid AS event_order, side.position, d.key AS dataset_order"
    " FROM lineage_events e"
    " JOIN (SELECT 'input' AS direction, '$.inputs' AS path, 0 AS position"
    " UNION ALL SELECT 'output', '$.outputs', 1) side"
    " JOIN json_each(e.payload, side.path) d"
    f" WHERE {_NEW_EVENTS})"
    " ORDER BY event_order, position, dataset_order"
)

# Per output: its fields' input fields, then the inputs of the output as a whole (no field).
_COLUMN_EDGES: Final = sa.text(
    "INSERT INTO lineage_column_edges (event_id, run_id, output_namespace, output_name,"  # noqa: S608
    " output_field, input_namespace, input_name, input_field, transformations, event_time)"
    " SELECT event_id, run_id, output_namespace, output_name, output_field,"
    " json_extract(source, '$.namespace'), json_extract(source, '$.name'),"
    " json_extract(source, '$.field'),"
    " coalesce(json_extract(source, '$.transformations'), '[]'), event_time FROM ("
    " SELECT e.event_id, e.run_id, e.event_time, e.rowid AS event_order,"
    " json_extract(out.value, '$.namespace') AS output_namespace,"
    " json_extract(out.value, '$.name') AS output_name, out.key AS output_order,"
    " f.key AS output_field, 0 AS part, f.id AS field_order,"
    " s.value AS source, s.key AS source_order"
    " FROM lineage_events e JOIN json_each(e.payload, '$.outputs') out"
    " JOIN json_each(out.value, '$.facets.columnLineage.fields') f"
    " JOIN json_each(f.value, '$.inputFields') s"
    f" WHERE {_NEW_EVENTS}"
    " UNION ALL"
    " SELECT e.event_id, e.run_id, e.event_time, e.rowid,"
    " json_extract(out.value, '$.namespace'), json_extract(out.value, '$.name'), out.key,"
    " NULL, 1, 0, s.value, s.key"
    " FROM lineage_events e JOIN json_each(e.payload, '$.outputs') out"
    " JOIN json_each(out.value, '$.facets.columnLineage.dataset') s"
    f" WHERE {_NEW_EVENTS})"
    " ORDER BY event_order, output_order, part, field_order, source_order"
)

# The edges written by this batch are those after the last one before it: the write lock is
# held, and neither edge table has an index on its event.
_LAST_DATASET_EDGE: Final = sa.text("SELECT coalesce(max(id), 0) FROM lineage_dataset_edges")
_LAST_COLUMN_EDGE: Final = sa.text("SELECT coalesce(max(id), 0) FROM lineage_column_edges")

_GRAPH_EDGES: Final = sa.text(
    "INSERT INTO lineage_graph_edges (job_name, direction, dataset_namespace, dataset_name,"  # noqa: S608
    " first_seen, last_seen)"
    " SELECT e.job_name, e.direction, e.dataset_namespace, e.dataset_name,"
    " min(e.event_time), max(e.event_time) FROM lineage_dataset_edges e"
    " WHERE e.id > :after"
    " GROUP BY e.job_name, e.direction, e.dataset_namespace, e.dataset_name"
    " ON CONFLICT (job_name, direction, dataset_namespace, dataset_name) DO UPDATE SET"
    " first_seen = min(first_seen, excluded.first_seen),"
    " last_seen = max(last_seen, excluded.last_seen)"
)

_GRAPH_FIELDS: Final = sa.text(
    "INSERT INTO lineage_graph_fields (output_namespace, output_name, output_field,"  # noqa: S608
    " input_namespace, input_name, input_field, first_seen, last_seen)"
    " SELECT e.output_namespace, e.output_name, e.output_field, e.input_namespace,"
    " e.input_name, e.input_field, min(e.event_time), max(e.event_time)"
    " FROM lineage_column_edges e"
    " WHERE e.id > :after AND e.output_field IS NOT NULL"
    " GROUP BY e.output_namespace, e.output_name, e.output_field, e.input_namespace,"
    " e.input_name, e.input_field"
    " ON CONFLICT (output_namespace, output_name, output_field, input_namespace,"
    " input_name, input_field) DO UPDATE SET"
    " first_seen = min(first_seen, excluded.first_seen),"
    " last_seen = max(last_seen, excluded.last_seen)"
)


def record_queued(conn: Connection, ids: Sequence[int], now: datetime) -> int | None:
    """Store the outbox rows `ids` and their edges in the caller's SQLite transaction, each
    event once; how many were new. None, with nothing written, where an event's time is
    written in a form SQLite could read differently from Python (store those with
    `record_many`)."""
    queued = json.dumps(list(ids))
    if conn.execute(_UNREADABLE, {"ids": queued}).scalar_one():
        return None
    recorded_at = now.astimezone(UTC)
    new = conn.execute(_EVENTS, {"ids": queued, "recorded_at": recorded_at}).scalars().all()
    if new:
        stored = {"new": json.dumps(new)}
        for edges, last, graph in (
            (_DATASET_EDGES, _LAST_DATASET_EDGE, _GRAPH_EDGES),
            (_COLUMN_EDGES, _LAST_COLUMN_EDGE, _GRAPH_FIELDS),
        ):
            after = conn.execute(last).scalar_one()
            conn.execute(edges, stored)
            conn.execute(graph, {"after": after})
    return len(new)
