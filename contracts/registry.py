"""The registry of every contract Tillit knows, in dependency order."""

from __future__ import annotations

from contracts.base import Contract
from contracts.datasets.cross_sector import FAMILIES_MOVING_IN
from contracts.datasets.early_childhood import ECE_PLACEMENTS
from contracts.datasets.family_services import FAMILY_SERVICE_CASES
from contracts.datasets.indicators import (
    DAYCARE_DEMAND_BY_DISTRICT,
    DAYCARE_WITHIN_FOUR_MONTHS,
    NEW_RESIDENT_FAMILIES_BY_MONTH,
)
from contracts.datasets.population import HOUSEHOLDS, PERSONS
from contracts.datasets.school import SCHOOL_ENROLMENTS
from contracts.errors import ContractError

CONTRACTS: tuple[Contract, ...] = (
    PERSONS,
    HOUSEHOLDS,
    ECE_PLACEMENTS,
    SCHOOL_ENROLMENTS,
    FAMILY_SERVICE_CASES,
    FAMILIES_MOVING_IN,
    DAYCARE_DEMAND_BY_DISTRICT,
    NEW_RESIDENT_FAMILIES_BY_MONTH,
    DAYCARE_WITHIN_FOUR_MONTHS,
)
_BY_NAME = {contract.name: contract for contract in CONTRACTS}


def all_contracts() -> tuple[Contract, ...]:
    """Every registered contract, upstream datasets first."""
    return CONTRACTS


def get_contract(name: str) -> Contract:
    """The contract called ``name``; ContractError lists the known names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ContractError(f"no contract named {name!r}; known: {sorted(_BY_NAME)}") from None
