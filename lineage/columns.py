"""Column-level lineage read off a contract's field sources: legacy field → contract field.

A field's ``source`` names where its values come from (see ``contracts.base.governed``):

* ``"VTJ_OTE.HETU"``: a column of a legacy extract. For a flat file the prefix is the file's stem,
  for a database file it is a table in it; an XML extract names an element path such as
  ``"oppilas/koulu@koodi"``.
* ``"derived:postal_code"``: computed in the load from another field of the same contract, so it
  traces to wherever that field comes from.
* ``"persons.dwelling_id"``: a field of another sharing-store dataset (contracts of source system
  ``tillit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Final, NamedTuple

from openlineage.client.facet_v2 import column_lineage_dataset as cl

from contracts.base import Contract, FieldSpec
from contracts.registry import get_contract
from lineage.namespaces import PRODUCER, STORE_NAMESPACE, legacy_namespace

DERIVED_PREFIX: Final = "derived:"
# The source system contracts give datasets built from other sharing-store datasets.
STORE_SOURCE_SYSTEM: Final = "tillit"
_DATABASE_SUFFIXES: Final = frozenset({".db", ".sqlite", ".sqlite3"})
_XML_SUFFIXES: Final = frozenset({".xml"})


class SourceField(NamedTuple):
    """One field of an input dataset, as OpenLineage names it."""

    namespace: str
    name: str
    field: str


def legacy_field(source_system: str, file: str, source: str) -> SourceField:
    """The legacy dataset and column a contract source such as ``VTJ_OTE.HETU`` points at."""
    path = PurePosixPath(file)
    namespace = legacy_namespace(source_system)
    if path.suffix.lower() in _XML_SUFFIXES:
        return SourceField(namespace, file, source)
    prefix, dot, column = source.partition(".")
    if not dot or not prefix or not column:
        raise ValueError(f"legacy source {source!r} is not of the form TABLE_OR_FILE.COLUMN")
    if path.suffix.lower() in _DATABASE_SUFFIXES:
        # A database extract holds several tables; each is a dataset of its own.
        return SourceField(namespace, prefix, column)
    if prefix != path.stem:
        raise ValueError(f"legacy source {source!r} does not name the extract {file!r}")
    return SourceField(namespace, file, column)


def store_field(source: str) -> SourceField:
    """The sharing-store dataset and field a source such as ``persons.dwelling_id`` names."""
    dataset, dot, field = source.partition(".")
    if not dot:
        raise ValueError(f"store source {source!r} is not of the form dataset.field")
    get_contract(dataset).field(field)  # a typo in a contract fails here, naming the contract
    return SourceField(STORE_NAMESPACE, dataset, field)


def _legacy_file(contract: Contract, legacy_files: Mapping[str, str]) -> str:
    try:
        return legacy_files[contract.source_system]
    except KeyError:
        raise ValueError(
            f"no legacy file given for source system {contract.source_system!r} "
            f"of contract {contract.name!r}"
        ) from None


def source_field(
    contract: Contract, spec: FieldSpec, legacy_files: Mapping[str, str]
) -> SourceField:
    """Where a contract field's values come from, following derivations to a stored field."""
    seen: list[str] = []
    while spec.derived:
        if spec.name in seen:
            raise ValueError(f"contract {contract.name!r}: derivation cycle through {seen}")
        seen.append(spec.name)
        spec = contract.field(spec.source.removeprefix(DERIVED_PREFIX))
    if contract.source_system != STORE_SOURCE_SYSTEM:
        file = _legacy_file(contract, legacy_files)
        return legacy_field(contract.source_system, file, spec.source)
    return store_field(spec.source)


def _transformation(contract: Contract, spec: FieldSpec, source: SourceField) -> cl.Transformation:
    if spec.derived:
        origin = spec.source.removeprefix(DERIVED_PREFIX)
        return cl.Transformation(
            type="DIRECT",
            subtype="TRANSFORMATION",
            description=f"derived in the load from {origin} ({source.name} {source.field})",
            masking=False,
        )
    if source.namespace == STORE_NAMESPACE:
        upstream = get_contract(source.name).field(source.field)
        if upstream.name == spec.name and upstream.dtype == spec.dtype:
            return cl.Transformation(type="DIRECT", subtype="IDENTITY", masking=False)
        # The contract says which field feeds this one, not how; claim no more than that.
        return cl.Transformation(type="DIRECT", description=f"computed from {source.field}")
    return cl.Transformation(type="DIRECT", description=f"read by the {contract.name} load")


def column_lineage(
    contract: Contract, legacy_files: Mapping[str, str]
) -> cl.ColumnLineageDatasetFacet:
    """Column lineage of a store dataset: each contract field from its source system field."""
    fields: dict[str, cl.Fields] = {}
    for spec in contract.fields:
        source = source_field(contract, spec, legacy_files)
        transformation = _transformation(contract, spec, source)
        input_field = cl.InputField(
            namespace=source.namespace,
            name=source.name,
            field=source.field,
            transformations=[transformation],
        )
        fields[spec.name] = cl.Fields(inputFields=[input_field])
    return cl.ColumnLineageDatasetFacet(fields=fields, producer=PRODUCER)


def input_fields(
    contract: Contract, legacy_files: Mapping[str, str]
) -> dict[tuple[str, str], list[str]]:
    """The input datasets of a load, (namespace, name) → fields read, in contract order."""
    datasets: dict[tuple[str, str], list[str]] = {}
    for spec in contract.fields:
        source = source_field(contract, spec, legacy_files)
        read = datasets.setdefault((source.namespace, source.name), [])
        if source.field not in read:
            read.append(source.field)
    return datasets
