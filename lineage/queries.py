"""Lineage questions answered from the store: where did a released value come from?"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lineage.namespaces import STORE_NAMESPACE
from lineage.store import lineage_column_edges, lineage_events

MAX_DEPTH = 8


@dataclass(frozen=True)
class Hop:
    """One step upstream: a field of a dataset, and the run that derived the step before it."""

    namespace: str
    name: str
    field: str
    run_id: str
    job: str
    transformations: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class FieldTrace:
    """A released field and its path back to the legacy source field(s)."""

    field: str
    paths: list[list[Hop]]


def _job_of(conn: Connection, run_id: str) -> str:
    job = conn.execute(
        sa.select(lineage_events.c.job_name).where(lineage_events.c.run_id == run_id).limit(1)
    ).scalar()
    return str(job or "")


def _producing_edges(
    conn: Connection, namespace: str, name: str, output_field: str, before: datetime
) -> list[Any]:
    """The edges of the latest run that wrote this field at or before ``before``."""
    edges = lineage_column_edges.c
    latest = (
        sa.select(edges.run_id)
        .where(
            edges.output_namespace == namespace,
            edges.output_name == name,
            edges.output_field == output_field,
            edges.event_time <= before,
        )
        .order_by(edges.event_time.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = conn.execute(
        sa.select(lineage_column_edges).where(
            edges.output_namespace == namespace,
            edges.output_name == name,
            edges.output_field == output_field,
            edges.run_id == latest,
        )
    ).all()
    return _distinct(rows)


def _distinct(rows: Any) -> list[Any]:
    # START and COMPLETE of one run both carry the column lineage; one edge per input suffices.
    seen: dict[tuple[str, ...], Any] = {}
    for row in rows:
        key = (
            row.run_id,
            row.output_field or "",
            row.input_namespace,
            row.input_name,
            row.input_field,
        )
        seen.setdefault(key, row)
    return list(seen.values())


def _paths(conn: Connection, edge: Any, depth: int) -> list[list[Hop]]:
    hop = Hop(
        edge.input_namespace,
        edge.input_name,
        edge.input_field,
        edge.run_id,
        _job_of(conn, edge.run_id),
        list(edge.transformations or []),
    )
    if edge.input_namespace != STORE_NAMESPACE or depth >= MAX_DEPTH:
        return [[hop]]
    upstream = _producing_edges(
        conn, edge.input_namespace, edge.input_name, edge.input_field, edge.event_time
    )
    if not upstream:
        return [[hop]]
    return [[hop, *rest] for parent in upstream for rest in _paths(conn, parent, depth + 1)]


def share_trace(conn: Connection, share_id: str) -> list[FieldTrace]:
    """For each field a share released, its path back through the store to the legacy field.

    Each step uses the newest run that wrote the field before the step that read it, so the
    trace shows the data as it was when it was shared."""
    edges = conn.execute(
        sa.select(lineage_column_edges)
        .where(lineage_column_edges.c.run_id == share_id)
        .order_by(lineage_column_edges.c.output_field)
    ).all()
    traces: dict[str, list[list[Hop]]] = {}
    for edge in _distinct(edges):
        if edge.output_field is not None:
            traces.setdefault(edge.output_field, []).extend(_paths(conn, edge, 0))
    return [FieldTrace(name, paths) for name, paths in traces.items()]
