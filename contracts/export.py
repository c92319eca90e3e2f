"""Exports of a contract to open standards: JSON Schema, ODCS v3 and DCAT-AP (JSON-LD)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
from open_data_contract_standard.model import OpenDataContractStandard

from contracts.base import Contract, FieldSpec

ODCS_API_VERSION = "v3.0.2"
BASE_URI = "https://tillit.fi/contracts"
_JSON_TYPES = {
    "string": "string",
    "date": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}


class ExportError(ValueError):
    """An export does not validate against its standard."""


def _json_type(spec: FieldSpec) -> dict[str, Any]:
    kind: dict[str, Any] = {"type": _JSON_TYPES[spec.dtype]}
    if spec.dtype == "date":
        kind["format"] = "date"
    if spec.nullable:
        kind = {"anyOf": [kind, {"type": "null"}]}
    return kind


def to_json_schema(contract: Contract) -> dict[str, Any]:
    """A JSON Schema (2020-12) of one row, with governance as `x-tillit-*` annotations."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{BASE_URI}/{contract.name}/{contract.version}/schema.json",
        "title": contract.name,
        "description": contract.description,
        "type": "object",
        "additionalProperties": False,
        "required": [spec.name for spec in contract.fields],
        "properties": {
            spec.name: {
                **_json_type(spec),
                "description": spec.description,
                "x-tillit-classification": spec.classification.value,
                "x-tillit-identifier": spec.identifier.value,
                "x-tillit-source": spec.source,
            }
            for spec in contract.fields
        },
        "x-tillit-contract-version": contract.version,
        "x-tillit-legal-basis": contract.legal_basis,
        "x-tillit-purposes": list(contract.purposes),
    }


def _odcs_property(contract: Contract, spec: FieldSpec) -> dict[str, Any]:
    prop: dict[str, Any] = {
        "name": spec.name,
        "logicalType": spec.dtype,
        "physicalType": spec.dtype,
        "description": spec.description,
        "required": not spec.nullable,
        "classification": spec.classification.value,
        "customProperties": [
            {"property": "identifierKind", "value": spec.identifier.value},
            {"property": "sourceField", "value": spec.source},
        ],
    }
    if spec.name in contract.primary_key:
        prop["primaryKey"] = True
        prop["primaryKeyPosition"] = contract.primary_key.index(spec.name) + 1
    return prop


def to_odcs(contract: Contract) -> dict[str, Any]:
    """An Open Data Contract Standard v3 document, validated with the standard's own schema."""
    document = {
        "apiVersion": ODCS_API_VERSION,
        "kind": "DataContract",
        "id": f"{BASE_URI}/{contract.name}",
        "name": contract.name,
        "version": contract.version,
        "status": "active",
        "domain": contract.source_system,
        "description": {
            "purpose": contract.description,
            "usage": f"Collected for {', '.join(contract.purposes)} on {contract.legal_basis}.",
            "limitations": "Released only under a data-sharing agreement, for its purposes.",
        },
        "team": {"name": contract.owner.removeprefix("team:")},
        "schema": [
            {
                "name": contract.name,
                "physicalName": contract.name,
                "logicalType": "object",
                "description": contract.description,
                "properties": [_odcs_property(contract, spec) for spec in contract.fields],
            }
        ],
        "customProperties": [
            {"property": "legalBasis", "value": contract.legal_basis},
            {"property": "purposes", "value": list(contract.purposes)},
            {"property": "retention", "value": contract.retention},
            {"property": "classification", "value": contract.classification.value},
        ],
    }
    _validate_odcs(document)
    return document


def _validate_odcs(document: dict[str, Any]) -> None:
    schema_text = (resources.files("open_data_contract_standard") / "schema.json").read_text()
    errors = sorted(
        jsonschema.Draft201909Validator(json.loads(schema_text)).iter_errors(document),
        key=lambda error: list(error.path),
    )
    if errors:
        raise ExportError(f"ODCS export is invalid: {errors[0].message} at {list(errors[0].path)}")
    OpenDataContractStandard.model_validate(document)


def to_dcat_ap(contract: Contract) -> dict[str, Any]:
    """A DCAT-AP dataset description (JSON-LD) for open data catalogues."""
    access = "PUBLIC" if contract.classification.value == "public" else "NON_PUBLIC"
    return {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "adms": "http://www.w3.org/ns/adms#",
            "foaf": "http://xmlns.com/foaf/0.1/",
        },
        "@id": f"{BASE_URI}/{contract.name}",
        "@type": "dcat:Dataset",
        "dct:identifier": contract.name,
        "dct:title": {"@language": "en", "@value": contract.name.replace("_", " ")},
        "dct:description": {"@language": "en", "@value": contract.description},
        "adms:version": contract.version,
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": contract.owner},
        "dct:accessRights": {
            "@id": f"http://publications.europa.eu/resource/authority/access-right/{access}"
        },
        "dcat:keyword": [contract.source_system, *contract.purposes],
        "dct:conformsTo": {"@id": f"{BASE_URI}/{contract.name}/{contract.version}/schema.json"},
    }


FORMATS = {"json-schema": to_json_schema, "odcs": to_odcs, "dcat-ap": to_dcat_ap}
