"""Lineage of a share: each released field traced back to the legacy field it came from."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query

from broker.api.examples import SHARE_TRACE, example_response
from broker.api.problems import problem_responses
from broker.deps import PartnerOrOperator, Runtime
from broker.errors import InvalidRequest, NotFound
from broker.store.tables import share_receipts
from lineage.namespaces import partner_namespace
from lineage.queries import MAX_DEPTH, dataset_graph, parse_dataset, share_trace

router = APIRouter(prefix="/v1/lineage", tags=["lineage"])


@router.get(
    "/shares/{share_id}",
    summary="Trace a share to its sources",
    responses={**example_response(SHARE_TRACE), **problem_responses(401, 403, 404, 422)},
)
def trace_share(share_id: str, principal: PartnerOrOperator, runtime: Runtime) -> dict[str, Any]:
    """For the share's partner and operators: every released field, through the sharing store
    and the pipeline run that loaded it, back to the legacy system's field. Others get 404."""
    query = sa.select(share_receipts.c.partner, share_receipts.c.dataset).where(
        share_receipts.c.share_id == share_id
    )
    with runtime.engine.connect() as conn:
        owner = conn.execute(query).first()
        operator = principal.kind == "operator" and principal.has_role("operator")
        if owner is None or not (operator or owner.partner == principal.partner_id):
            raise NotFound("no such share")
        fields = share_trace(conn, share_id)
    return {
        "share_id": share_id,
        "partner": owner.partner,
        "dataset": owner.dataset,
        "fields": [dataclasses.asdict(trace) for trace in fields],
    }


@router.get(
    "/datasets/{dataset_ref:path}",
    summary="The lineage graph around a dataset",
    responses=problem_responses(401, 403, 404, 422),
)
def dataset_lineage(
    dataset_ref: str,
    principal: PartnerOrOperator,
    runtime: Runtime,
    direction: Annotated[Literal["upstream", "downstream"], Query()] = "upstream",
    depth: Annotated[int, Query(ge=1, le=MAX_DEPTH)] = 3,
    as_of: Annotated[datetime | None, Query(description="ISO time; default now")] = None,
) -> dict[str, Any]:
    """Datasets, jobs and column edges up- or downstream of `namespace/name` (e.g.
    `tillit://store/persons`) as the graph stood at `as_of`. Operators see everything;
    a partner sees only the upstream lineage of its own deliveries (others are 404)."""
    start = parse_dataset(dataset_ref)
    if start is None:
        raise NotFound("no such dataset")
    operator = principal.kind == "operator" and principal.has_role("operator")
    own = start.namespace == partner_namespace(principal.partner_id)
    if not operator and not (own and direction == "upstream"):
        raise NotFound("no such dataset")
    moment = as_of or runtime.now()
    if moment.tzinfo is None:
        raise InvalidRequest("as_of needs a time zone", code="invalid_request")
    with runtime.engine.connect() as conn:
        graph = dataset_graph(conn, start, direction=direction, depth=depth, as_of=moment)
    if len(graph.datasets) == 1 and not graph.jobs:
        raise NotFound("no lineage for this dataset")
    return {
        "dataset": dataclasses.asdict(start),
        "direction": direction,
        "as_of": moment,
        **graph.as_json(),
    }
