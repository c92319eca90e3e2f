"""Turn a steward's pandera model and governance arguments into a checked :class:`Contract`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import pandera.pandas as pa

from contracts.base import (
    GOVERNANCE_KEY,
    Classification,
    Contract,
    Derivation,
    FieldSpec,
    IdentifierKind,
    Reference,
)
from contracts.errors import ContractError

_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_ISO_DURATION = re.compile(r"^P(\d+Y)?(\d+M)?(\d+D)?$")
# Fields that identify a person on their own whatever a steward calls them.
DIRECT_IDENTIFIER_CHECKS = frozenset({"henkilotunnus"})
DIRECT_IDENTIFIER_NAMES = frozenset(
    {"last_name", "full_name", "street_address", "email", "phone", "henkilotunnus"}
)


def _dtype_name(dtype: Any) -> str:
    text = str(dtype).lower()
    if "datetime" in text or text == "date":
        return "date"
    if "int" in text:
        return "integer"
    if "float" in text:
        return "number"
    if "bool" in text:
        return "boolean"
    return "string"


def _field_spec(contract: str, column: pa.Column) -> FieldSpec:
    name = str(column.name)
    governance = (column.metadata or {}).get(GOVERNANCE_KEY) or {}
    if governance.get("classification") is None:
        raise ContractError(f"contract {contract!r}: field {name!r} is unclassified")
    if not column.description:
        raise ContractError(f"contract {contract!r}: field {name!r} has no description")
    if not governance.get("source"):
        raise ContractError(f"contract {contract!r}: field {name!r} names no source field")
    checks = tuple(check.name for check in column.checks)
    return FieldSpec(
        name=name,
        dtype=_dtype_name(column.dtype),
        nullable=bool(column.nullable),
        description=column.description,
        classification=Classification(governance["classification"]),
        identifier=IdentifierKind(governance["identifier"]),
        source=str(governance["source"]),
        checks=checks,
    )


def _require_direct_marking(contract: str, spec: FieldSpec) -> None:
    looks_direct = spec.name in DIRECT_IDENTIFIER_NAMES or bool(
        DIRECT_IDENTIFIER_CHECKS.intersection(spec.checks)
    )
    if looks_direct and spec.identifier is not IdentifierKind.DIRECT:
        raise ContractError(
            f"contract {contract!r}: field {spec.name!r} is a direct identifier "
            f"but is marked {spec.identifier.value!r}"
        )


def _check_metadata(name: str, version: str, owner: str, retention: str) -> None:
    if not _SEMVER.match(version):
        raise ContractError(f"contract {name!r}: version {version!r} is not semantic (x.y.z)")
    if not owner.startswith(("team:", "user:")):
        raise ContractError(f"contract {name!r}: owner {owner!r} must be 'team:…' or 'user:…'")
    if not _ISO_DURATION.match(retention) or retention == "P":
        raise ContractError(f"contract {name!r}: retention {retention!r} is not an ISO duration")


def _check_legal(
    name: str, fields: Iterable[FieldSpec], purposes: tuple[str, ...], basis: str
) -> None:
    if not purposes:
        raise ContractError(f"contract {name!r} names no purpose of collection")
    sensitive = [f.name for f in fields if f.classification is Classification.SENSITIVE]
    if sensitive and not basis:
        raise ContractError(
            f"contract {name!r}: sensitive fields {sensitive} have no legal basis of collection"
        )


def _check_structure(
    name: str,
    fields: tuple[FieldSpec, ...],
    primary_key: tuple[str, ...],
    references: tuple[Reference, ...],
    derivations: Mapping[str, Derivation],
) -> None:
    names = {f.name for f in fields}
    for key in primary_key:
        if key not in names:
            raise ContractError(f"contract {name!r}: primary key field {key!r} does not exist")
    for ref in references:
        if ref.field not in names:
            raise ContractError(f"contract {name!r}: reference field {ref.field!r} does not exist")
    derived = {f.name for f in fields if f.derived}
    if derived != set(derivations):
        raise ContractError(
            f"contract {name!r}: derived fields {sorted(derived)} need exactly one derivation "
            f"each, got {sorted(derivations)}"
        )


def define_contract(
    model: type[pa.DataFrameModel],
    *,
    name: str,
    version: str,
    owner: str,
    source_system: str,
    purposes: tuple[str, ...],
    legal_basis: str,
    retention: str,
    primary_key: tuple[str, ...],
    references: tuple[Reference, ...] = (),
    derivations: Mapping[str, Derivation] | None = None,
    quarantine_limit: float = 0.05,
    max_staleness: timedelta = timedelta(days=2),
    min_cell_size: int = 5,
    aggregate: bool = False,
) -> Contract:
    """Check a steward's contract against the governance rules and return it.

    Raises ContractError naming the contract and field when a field is unclassified, a direct
    identifier is not marked as one, or sensitive data has no legal basis of collection.
    """
    description = (model.__doc__ or "").strip()
    if not description:
        raise ContractError(f"contract {name!r}: the model needs a docstring describing it")
    _check_metadata(name, version, owner, retention)
    fields = tuple(_field_spec(name, column) for column in model.to_schema().columns.values())
    for spec in fields:
        _require_direct_marking(name, spec)
    _check_legal(name, fields, purposes, legal_basis)
    derivations = dict(derivations or {})
    _check_structure(name, fields, primary_key, references, derivations)
    return Contract(
        name=name,
        version=version,
        owner=owner,
        description=description,
        source_system=source_system,
        purposes=purposes,
        legal_basis=legal_basis,
        retention=retention,
        model=model,
        fields=fields,
        primary_key=primary_key,
        references=references,
        derivations=derivations,
        quarantine_limit=quarantine_limit,
        max_staleness=max_staleness,
        min_cell_size=min_cell_size,
        aggregate=aggregate,
    )
