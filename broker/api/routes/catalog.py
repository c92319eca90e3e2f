"""The catalog: datasets from their contracts, and what the caller's agreements allow."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from broker.api.examples import CATALOG_ENTRY, example_response
from broker.api.problems import problem_responses
from broker.auth.principal import Principal
from broker.deps import Partner, Runtime
from broker.errors import NotFound
from broker.runtime import BrokerRuntime
from contracts.catalog import describe

router = APIRouter(prefix="/v1/catalog", tags=["catalog"])


def agreement_summaries(
    runtime: BrokerRuntime, dataset: str, partner_id: str | None = None
) -> list[dict[str, Any]]:
    """Agreements on a dataset, of one partner or (for the public catalog page) of every one."""
    today = runtime.now().date()
    return [
        {
            "agreement_id": agreement.id,
            "agreement_version": agreement.version,
            "purposes": list(agreement.purposes),
            "legal_basis": agreement.legal_basis,
            "fields": list(agreement.fields),
            "aggregate_only": agreement.aggregate_only,
            "in_force": agreement.in_force(today),
        }
        for agreement in runtime.config.agreements
        if agreement.dataset == dataset and partner_id in (None, agreement.partner)
    ]


def _entry(runtime: BrokerRuntime, principal: Principal, name: str) -> dict[str, Any]:
    return {
        **describe(runtime.contracts[name]),
        "your_agreements": agreement_summaries(runtime, name, principal.partner_id),
    }


@router.get(
    "",
    summary="List datasets",
    responses={**example_response([CATALOG_ENTRY]), **problem_responses(401, 403)},
)
def list_datasets(principal: Partner, runtime: Runtime) -> list[dict[str, Any]]:
    """Every dataset with its fields and classifications, and what your agreements allow."""
    return [_entry(runtime, principal, name) for name in runtime.contracts]


@router.get(
    "/{dataset}",
    summary="Describe a dataset",
    responses={**example_response(CATALOG_ENTRY), **problem_responses(401, 403, 404, 422)},
)
def read_dataset(dataset: str, principal: Partner, runtime: Runtime) -> dict[str, Any]:
    """One dataset's contract and what your agreements allow."""
    if dataset not in runtime.contracts:
        raise NotFound("no such dataset")
    return _entry(runtime, principal, dataset)
