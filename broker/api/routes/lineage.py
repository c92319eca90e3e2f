"""Lineage of a share: each released field traced back to the legacy field it came from."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter

from broker.api.examples import SHARE_TRACE, example_response
from broker.api.problems import problem_responses
from broker.deps import CurrentPrincipal, Runtime
from broker.errors import NotFound
from broker.store.tables import share_receipts
from lineage.queries import share_trace

router = APIRouter(prefix="/v1/lineage", tags=["lineage"])


@router.get(
    "/shares/{share_id}",
    summary="Trace a share to its sources",
    responses={**example_response(SHARE_TRACE), **problem_responses(401, 404, 422)},
)
def trace_share(share_id: str, principal: CurrentPrincipal, runtime: Runtime) -> dict[str, Any]:
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
