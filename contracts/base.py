"""The contract framework: a pandera model plus the governance metadata a steward declares once."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

import pandas as pd
import pandera.pandas as pa

from contracts import checks as _checks  # noqa: F401  (registers the domain checks)
from contracts.errors import ContractError

GOVERNANCE_KEY = "tillit"


class Classification(StrEnum):
    """How much harm disclosure of a field could do; drives what the broker may release."""

    PUBLIC = "public"
    INTERNAL = "internal"
    PERSONAL = "personal"
    SENSITIVE = "sensitive"


class IdentifierKind(StrEnum):
    """Whether a field identifies a person on its own (direct), in combination (quasi) or not."""

    DIRECT = "direct"
    QUASI = "quasi"
    NONE = "none"


def governed(
    *,
    description: str,
    classification: Classification | None,
    source: str,
    identifier: IdentifierKind = IdentifierKind.NONE,
    nullable: bool = False,
    **checks: Any,
) -> Any:
    """A pandera field carrying its governance metadata (classification, identifier, source)."""
    governance = {"classification": classification, "identifier": identifier, "source": source}
    return pa.Field(
        nullable=nullable,
        description=description,
        metadata={GOVERNANCE_KEY: governance},
        **checks,
    )


@dataclass(frozen=True)
class FieldSpec:
    """One field of a contract as the rest of Tillit sees it."""

    name: str
    dtype: str
    nullable: bool
    description: str
    classification: Classification
    identifier: IdentifierKind
    source: str
    checks: tuple[str, ...]

    @property
    def derived(self) -> bool:
        """True when the pipeline computes the field instead of reading it from the source."""
        return self.source.startswith("derived:")


Derivation = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Reference:
    """A field whose values must exist as keys of another contract's dataset."""

    field: str
    dataset: str
    key: str


@dataclass(frozen=True)
class Contract:
    """A dataset described once: schema, governance and the rules every load is held to."""

    name: str
    version: str
    owner: str
    description: str
    source_system: str
    purposes: tuple[str, ...]
    legal_basis: str
    retention: str
    model: type[pa.DataFrameModel]
    fields: tuple[FieldSpec, ...]
    primary_key: tuple[str, ...]
    references: tuple[Reference, ...] = ()
    derivations: Mapping[str, Derivation] = field(default_factory=dict)
    quarantine_limit: float = 0.05
    max_staleness: timedelta = timedelta(days=2)
    min_cell_size: int = 5
    aggregate: bool = False

    @property
    def schema(self) -> pa.DataFrameSchema:
        """The pandera schema of the curated dataset."""
        return self.model.to_schema()

    @functools.cached_property
    def field_names(self) -> tuple[str, ...]:
        """Field names in declaration order (computed once: a share asks for each field)."""
        return tuple(f.name for f in self.fields)

    @property
    def source_fields(self) -> tuple[FieldSpec, ...]:
        """Fields read from the legacy source (not derived)."""
        return tuple(f for f in self.fields if not f.derived)

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``; a ContractError names the contract when it is missing."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise ContractError(f"contract {self.name!r} has no field {name!r}")

    @property
    def classification(self) -> Classification:
        """The highest classification of any field: the dataset's own classification."""
        order = list(Classification)
        return max((f.classification for f in self.fields), key=order.index)
