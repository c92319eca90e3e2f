"""What the broker knows about a dataset, derived from its contract (never written twice)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, NamedTuple, cast, get_args

Classification = Literal["public", "internal", "personal", "sensitive"]
IdentifierKind = Literal["direct", "quasi", "none"]

_CLASSIFICATIONS: frozenset[str] = frozenset(get_args(Classification))
_IDENTIFIER_KINDS: frozenset[str] = frozenset(get_args(IdentifierKind))


class FieldInfo(NamedTuple):
    """A field's classification and whether it identifies a person directly or in combination."""

    classification: Classification
    identifier: IdentifierKind


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """A dataset as the broker reasons about it: version, collection purposes, basis, fields."""

    name: str
    version: str
    purposes: tuple[str, ...]
    legal_basis: str
    fields: Mapping[str, FieldInfo]

    def is_direct_identifier(self, field: str) -> bool:
        """Whether the field identifies a person on its own (e.g. a personal identity code)."""
        info = self.fields.get(field)
        return info is not None and info.identifier == "direct"

    def quasi_identifiers(self) -> tuple[str, ...]:
        """Fields that identify a person only in combination (drive k-anonymity warnings)."""
        return tuple(name for name, info in self.fields.items() if info.identifier == "quasi")


def _plain(value: Any) -> str:
    # Contracts may model classifications as enums; the broker only needs their string value.
    return str(value.value) if isinstance(value, Enum) else str(value)


def _field_info(contract_name: str, field: Any) -> FieldInfo:
    classification = _plain(field.classification)
    identifier = _plain(field.identifier)
    if classification not in _CLASSIFICATIONS:
        raise ValueError(f"{contract_name}.{field.name}: unknown classification {classification!r}")
    if identifier not in _IDENTIFIER_KINDS:
        raise ValueError(f"{contract_name}.{field.name}: unknown identifier kind {identifier!r}")
    return FieldInfo(cast(Classification, classification), cast(IdentifierKind, identifier))


def dataset_infos_from_contracts(contracts: Iterable[Any]) -> dict[str, DatasetInfo]:
    """Adapt contracts (`.name, .version, .purposes, .legal_basis, .fields`) to DatasetInfo."""
    infos: dict[str, DatasetInfo] = {}
    for contract in contracts:
        name = str(contract.name)
        if name in infos:
            raise ValueError(f"two contracts describe dataset {name!r}")
        infos[name] = DatasetInfo(
            name=name,
            version=str(contract.version),
            purposes=tuple(_plain(p) for p in contract.purposes),
            legal_basis=_plain(contract.legal_basis),
            fields={str(f.name): _field_info(name, f) for f in contract.fields},
        )
    return infos
