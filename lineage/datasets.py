"""Facets of a sharing-store dataset, read off its contract, and the event time format."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from openlineage.client.facet_v2 import (
    datasource_dataset,
    documentation_dataset,
    ownership_dataset,
    schema_dataset,
)

from contracts.base import Contract, FieldSpec
from lineage.facets import GOVERNANCE_FACET, governance_facet
from lineage.namespaces import PRODUCER, STORE_NAMESPACE


def event_time_text(event_time: datetime) -> str:
    """An aware timestamp as the ISO 8601 text events carry; naive times are refused."""
    if event_time.tzinfo is None or event_time.utcoffset() is None:
        raise ValueError("event_time must be timezone-aware")
    return event_time.isoformat()


def schema_facet(specs: Iterable[FieldSpec]) -> schema_dataset.SchemaDatasetFacet:
    """A ``schema`` facet listing contract fields with their types and descriptions."""
    fields = [
        schema_dataset.SchemaDatasetFacetFields(
            name=spec.name, type=spec.dtype, description=spec.description
        )
        for spec in specs
    ]
    return schema_dataset.SchemaDatasetFacet(fields=fields, producer=PRODUCER)


def data_source_facet(name: str, uri: str) -> datasource_dataset.DatasourceDatasetFacet:
    """A ``dataSource`` facet naming the system that holds a dataset."""
    return datasource_dataset.DatasourceDatasetFacet(name=name, uri=uri, producer=PRODUCER)


def dataset_facets(contract: Contract) -> dict[str, Any]:
    """The facets of a store dataset: schema, dataSource, documentation, ownership, governance."""
    return {
        "schema": schema_facet(contract.fields),
        "dataSource": data_source_facet("tillit-store", STORE_NAMESPACE),
        "documentation": documentation_dataset.DocumentationDatasetFacet(
            description=contract.description, contentType="text/plain", producer=PRODUCER
        ),
        "ownership": ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(name=contract.owner)], producer=PRODUCER
        ),
        GOVERNANCE_FACET: governance_facet(contract),
    }
