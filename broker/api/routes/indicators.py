"""Indicators for leaders as JSON: the same numbers as the /indicators page, for partners whose
agreement covers the indicator assets; every answer is an audited share."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from broker.api.examples import INDICATOR, example_response
from broker.api.problems import problem_responses
from broker.deps import Partner, Shares
from broker.errors import NotFound
from broker.indicators import IndicatorRelease, release_indicators
from contracts.errors import ContractError
from contracts.leaders import all_indicators, get_indicator
from contracts.registry import get_contract
from lineage.namespaces import STORE_NAMESPACE

router = APIRouter(prefix="/v1/indicators", tags=["indicators"])

Purpose = Annotated[
    str, Query(pattern=r"^[a-z][a-z0-9_-]{0,63}$", description="Purpose id of the release")
]
LegalBasis = Annotated[
    str, Query(pattern=r"^[a-z][a-z0-9_-]{0,95}$", description="Legal basis id of the release")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetOut(_Strict):
    value: float
    direction: str


class ContractOut(_Strict):
    name: str
    version: str
    catalog: str


class PointOut(_Strict):
    month: str
    district: str
    segment: str
    value: float | None
    numerator: int | None
    denominator: int | None
    provisional: bool
    meets_target: bool | None


class IndicatorOut(_Strict):
    """An indicator, its target and its released values (null where a cell is suppressed)."""

    id: str
    goal: str | None
    title: dict[str, str]
    description: dict[str, str]
    unit: str
    target: TargetOut
    owner: str
    asset: str
    contracts: list[ContractOut]
    lineage: str
    share_id: str
    values: list[PointOut]


class IndicatorList(_Strict):
    indicators: list[IndicatorOut]


def _contracts(reads: dict[str, str]) -> list[ContractOut]:
    return [
        ContractOut(name=name, version=version, catalog=f"/catalog#{name}")
        for name, version in reads.items()
    ]


def indicator_out(release: IndicatorRelease) -> IndicatorOut:
    """One release as the API answers it."""
    indicator = release.indicator
    get_contract(indicator.asset)  # the asset is registered: checked when goals load
    return IndicatorOut(
        id=indicator.id,
        goal=release.goal_id,
        title=dict(indicator.title),
        description=dict(indicator.description),
        unit=indicator.unit.value,
        target=TargetOut(value=indicator.target.value, direction=indicator.target.direction),
        owner=indicator.owner,
        asset=indicator.asset,
        contracts=_contracts(dict(indicator.reads)),
        lineage=f"/v1/lineage/datasets/{STORE_NAMESPACE}/{indicator.asset}",
        share_id=release.share_id,
        values=[PointOut(**vars(point)) for point in release.points],
    )


@router.get(
    "",
    summary="Every indicator with its monthly values",
    response_model=IndicatorList,
    responses={**example_response({"indicators": [INDICATOR]}), **problem_responses(401, 403, 422)},
)
def list_indicators(
    principal: Partner, shares: Shares, purpose: Purpose, legal_basis: LegalBasis
) -> dict[str, Any]:
    """Every indicator, released for `purpose` on `legal_basis` under your agreement on the
    indicator assets; denied (403, audited) without one. Suppressed cells are null."""
    releases = release_indicators(
        shares, principal, all_indicators(), purpose=purpose, legal_basis=legal_basis
    )
    return {"indicators": [indicator_out(release) for release in releases]}


@router.get(
    "/{indicator_id}",
    summary="One indicator with its monthly values",
    response_model=IndicatorOut,
    responses={**example_response(INDICATOR), **problem_responses(401, 403, 404, 422)},
)
def read_indicator(
    indicator_id: str, principal: Partner, shares: Shares, purpose: Purpose, legal_basis: LegalBasis
) -> IndicatorOut:
    """One indicator, released like the list (one audited share of its asset)."""
    try:
        indicator = get_indicator(indicator_id)
    except ContractError:
        raise NotFound("no such indicator") from None
    [release] = release_indicators(
        shares, principal, [indicator], purpose=purpose, legal_basis=legal_basis
    )
    return indicator_out(release)
