"""The caller's own data-sharing agreements (and never anyone else's)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from broker.api.examples import AGREEMENT, example_response
from broker.api.problems import problem_responses
from broker.deps import Partner, Runtime

router = APIRouter(prefix="/v1/agreements", tags=["agreements"])


@router.get(
    "",
    summary="List your agreements",
    responses={**example_response([AGREEMENT]), **problem_responses(401, 403)},
)
def list_agreements(principal: Partner, runtime: Runtime) -> list[dict[str, Any]]:
    """The agreements that name you as the partner, with whether each is in force today."""
    today = runtime.now().date()
    return [
        {**agreement.model_dump(mode="json"), "in_force": agreement.in_force(today)}
        for agreement in runtime.config.agreements
        if agreement.partner == principal.partner_id
    ]
