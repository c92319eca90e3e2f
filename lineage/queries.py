"""Lineage questions answered from the store: where did a released value come from?"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lineage.namespaces import STORE_NAMESPACE
from lineage.store import (
    lineage_column_edges,
    lineage_events,
    lineage_graph_edges,
    lineage_graph_fields,
)

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


@dataclass(frozen=True)
class DatasetRef:
    """A dataset in the lineage graph."""

    namespace: str
    name: str


@dataclass
class Graph:
    """Datasets, the jobs between them and the column edges, as of a moment."""

    datasets: set[DatasetRef] = dataclasses.field(default_factory=set)
    jobs: set[str] = dataclasses.field(default_factory=set)
    edges: set[tuple[str, str, str]] = dataclasses.field(default_factory=set)  # from, job, to
    columns: set[tuple[str, str, str, str]] = dataclasses.field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form, sorted so answers are stable."""
        return {
            "datasets": [dataclasses.asdict(d) for d in sorted(self.datasets, key=_key)],
            "jobs": sorted(self.jobs),
            "edges": [{"from": a, "job": j, "to": b} for a, j, b in sorted(self.edges)],
            "column_edges": [
                {"from": a, "from_field": f, "to": b, "to_field": g}
                for a, f, b, g in sorted(self.columns)
            ],
        }


_DATASET_URI = re.compile(r"^(legacy://[^/]+|tillit://store|tillit://partner/[^/]+)/(.+)$")


def parse_dataset(uri: str) -> DatasetRef | None:
    """`namespace/name` (e.g. `tillit://store/persons`) as a reference; None if not Tillit's."""
    match = _DATASET_URI.match(uri)
    return DatasetRef(match.group(1), match.group(2)) if match else None


def _key(ref: DatasetRef) -> tuple[str, str]:
    return ref.namespace, ref.name


def _uri(ref: DatasetRef) -> str:
    return f"{ref.namespace}/{ref.name}"


def _jobs_touching(conn: Connection, ref: DatasetRef, direction: str, as_of: datetime) -> list[Any]:
    e = lineage_graph_edges.c
    return list(
        conn.execute(
            sa.select(e.job_name).where(
                e.dataset_namespace == ref.namespace,
                e.dataset_name == ref.name,
                e.direction == direction,
                e.first_seen <= as_of,
            )
        ).scalars()
    )


def _job_datasets(conn: Connection, job: str, direction: str, as_of: datetime) -> list[DatasetRef]:
    e = lineage_graph_edges.c
    rows = conn.execute(
        sa.select(e.dataset_namespace, e.dataset_name).where(
            e.job_name == job, e.direction == direction, e.first_seen <= as_of
        )
    ).all()
    return [DatasetRef(row[0], row[1]) for row in rows]


def _column_edges(conn: Connection, graph: Graph, as_of: datetime) -> None:
    c = lineage_graph_fields.c
    for target in graph.datasets:
        rows = conn.execute(
            sa.select(c.input_namespace, c.input_name, c.input_field, c.output_field).where(
                c.output_namespace == target.namespace,
                c.output_name == target.name,
                c.first_seen <= as_of,
            )
        ).all()
        for row in rows:
            source = DatasetRef(row[0], row[1])
            if source in graph.datasets:
                graph.columns.add((_uri(source), row[2], _uri(target), row[3]))


def dataset_graph(
    conn: Connection, start: DatasetRef, *, direction: str, depth: int, as_of: datetime
) -> Graph:
    """The lineage graph around a dataset, ``depth`` jobs up- or downstream, as of a moment."""
    if direction not in ("upstream", "downstream"):
        raise ValueError("direction is upstream or downstream")
    towards, away = ("output", "input") if direction == "upstream" else ("input", "output")
    graph = Graph(datasets={start})
    frontier = [start]
    for _ in range(max(0, min(depth, MAX_DEPTH))):
        following: list[DatasetRef] = []
        for ref in frontier:
            for job in _jobs_touching(conn, ref, towards, as_of):
                graph.jobs.add(job)
                for other in _job_datasets(conn, job, away, as_of):
                    edge = (
                        (_uri(other), job, _uri(ref))
                        if direction == "upstream"
                        else (_uri(ref), job, _uri(other))
                    )
                    graph.edges.add(edge)
                    if other not in graph.datasets:
                        graph.datasets.add(other)
                        following.append(other)
        frontier = following
    _column_edges(conn, graph, as_of)
    return graph
