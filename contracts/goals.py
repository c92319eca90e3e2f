"""Goals and the indicators that measure them, declared beside the contracts they stand on.

A goal is a sentence leaders commit to; an indicator is a number computed by one Dagster asset
from curated data, with a target, a unit, an owner and the contract versions it reads. Both are
checked when this module is imported: an indicator naming an unknown asset, field or contract,
or a contract version other than the registered one, fails with a ContractError naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from contracts.base import Contract
from contracts.errors import ContractError
from contracts.registry import get_contract

LANGUAGES = ("fi", "sv", "en")
_ID = re.compile(r"^[a-z][a-z0-9_]{2,63}$")


class Direction(StrEnum):
    """Whether an indicator meets its target at or above it, or at or below it."""

    AT_LEAST = "at_least"
    AT_MOST = "at_most"


class Unit(StrEnum):
    """What an indicator's value counts."""

    PERCENT = "percent"
    CHILDREN = "children"


@dataclass(frozen=True)
class Target:
    """The value an indicator should reach, and from which side."""

    value: float
    direction: Direction

    def met_by(self, value: float) -> bool:
        """Whether ``value`` meets the target."""
        if self.direction is Direction.AT_LEAST:
            return value >= self.value
        return value <= self.value


@dataclass(frozen=True)
class Indicator:
    """A number for leaders: the share ``numerator / denominator`` (percent) or a count."""

    id: str
    title: Mapping[str, str]
    description: Mapping[str, str]
    asset: str
    numerator: str
    denominator: str | None
    unit: Unit
    target: Target
    owner: str
    reads: Mapping[str, str]

    @property
    def contract(self) -> Contract:
        """The contract of the dataset the indicator's asset publishes."""
        return get_contract(self.asset)

    def value(self, numerator: int | None, denominator: int | None) -> float | None:
        """The indicator's value from published counts; None when a count is suppressed."""
        if numerator is None:
            return None
        if self.denominator is None:
            return float(numerator)
        if denominator is None or denominator == 0:
            return None
        return round(100.0 * numerator / denominator, 1)


@dataclass(frozen=True)
class Goal:
    """What leaders want to achieve, in three languages, and the indicators that measure it."""

    id: str
    statement: Mapping[str, str]
    owner: str
    indicators: tuple[Indicator, ...]


def _texts(kind: str, name: str, texts: Mapping[str, str]) -> Mapping[str, str]:
    missing = [code for code in LANGUAGES if not texts.get(code, "").strip()]
    if missing:
        raise ContractError(f"{kind} {name!r} has no text in {', '.join(missing)}")
    return MappingProxyType(dict(texts))


def _check_counts(name: str, contract: Contract, *fields: str | None) -> None:
    for field in fields:
        if field is None:
            continue
        try:
            spec = contract.field(field)
        except ContractError:
            raise ContractError(
                f"indicator {name!r}: asset {contract.name!r} has no field {field!r}"
            ) from None
        if spec.dtype != "integer":
            raise ContractError(f"indicator {name!r}: field {field!r} is not a count")


def _check_reads(name: str, contract: Contract, reads: Mapping[str, str]) -> None:
    for dataset, version in reads.items():
        try:
            registered = get_contract(dataset).version
        except ContractError:
            raise ContractError(f"indicator {name!r} reads unknown contract {dataset!r}") from None
        if registered != version:
            raise ContractError(
                f"indicator {name!r} reads {dataset} {version}, but the registered contract "
                f"is {registered}: review the indicator and update its version"
            )
    upstream = {spec.source.partition(".")[0] for spec in contract.fields}
    unnamed = sorted(upstream - set(reads) - {contract.name})
    if unnamed:
        raise ContractError(
            f"indicator {name!r}: asset {contract.name!r} reads {unnamed}, which the indicator "
            f"does not name in reads"
        )
    reads_itself = reads.get(contract.name)
    if reads_itself is None:
        raise ContractError(f"indicator {name!r} must name its own asset's contract in reads")


def define_indicator(
    id: str,
    *,
    title: Mapping[str, str],
    description: Mapping[str, str],
    asset: str,
    numerator: str,
    denominator: str | None,
    unit: Unit,
    target: Target,
    owner: str,
    reads: Mapping[str, str],
) -> Indicator:
    """Check an indicator against the contracts and return it."""
    if not _ID.match(id):
        raise ContractError(f"indicator id {id!r} must be lower_snake_case")
    if not owner.startswith(("team:", "user:")):
        raise ContractError(f"indicator {id!r}: owner {owner!r} must be 'team:…' or 'user:…'")
    try:
        contract = get_contract(asset)
    except ContractError:
        raise ContractError(f"indicator {id!r}: no asset publishes {asset!r}") from None
    if not contract.aggregate:
        raise ContractError(f"indicator {id!r}: asset {asset!r} is not a suppressed aggregate")
    if (unit is Unit.PERCENT) != (denominator is not None):
        raise ContractError(f"indicator {id!r}: a percentage needs a denominator, a count none")
    _check_counts(id, contract, numerator, denominator)
    _check_reads(id, contract, reads)
    return Indicator(
        id=id,
        title=_texts("indicator", id, title),
        description=_texts("indicator", id, description),
        asset=asset,
        numerator=numerator,
        denominator=denominator,
        unit=unit,
        target=target,
        owner=owner,
        reads=MappingProxyType(dict(reads)),
    )


def define_goal(
    id: str,
    *,
    statement: Mapping[str, str],
    owner: str,
    indicators: tuple[str, ...],
    known: Mapping[str, Indicator],
) -> Goal:
    """Check a goal's indicators exist and return it."""
    if not _ID.match(id):
        raise ContractError(f"goal id {id!r} must be lower_snake_case")
    if not indicators:
        raise ContractError(f"goal {id!r} names no indicator")
    unknown = [name for name in indicators if name not in known]
    if unknown:
        raise ContractError(
            f"goal {id!r} names unknown indicators {unknown}; known: {sorted(known)}"
        )
    return Goal(
        id=id,
        statement=_texts("goal", id, statement),
        owner=owner,
        indicators=tuple(known[name] for name in indicators),
    )
