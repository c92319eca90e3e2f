"""Validate run events against the OpenLineage spec and the facet schemas they name, offline.

The schemas are data in ``lineage/schemas/``: Tillit's own facets, and OpenLineage's spec and
facet schemas vendored under ``openlineage/`` (provenance in its SOURCE.md). Every ``$ref``
resolves from that folder; nothing is fetched. An event is checked as a whole against the schema
its ``schemaURL`` names, then each facet against the schema its ``_schemaURL`` names. A schema
URL that is neither vendored nor listed in ``openlineage/stand-ins.json`` is an error.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import referencing.exceptions
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR: Final = Path(__file__).with_name("schemas")
STAND_INS_FILE: Final = SCHEMA_DIR / "openlineage" / "stand-ins.json"
_DATASET_FACET_MAPS: Final = {"inputs": "inputFacets", "outputs": "outputFacets"}

_FORMATS: Final = FormatChecker()


def _is_date_time(value: object) -> bool:
    # jsonschema checks date-time only with an optional package; RFC 3339 needs a zone and a T.
    if not isinstance(value, str):
        return True
    return "T" in value.upper() and datetime.fromisoformat(value).tzinfo is not None


_FORMATS.checks("date-time", raises=ValueError)(_is_date_time)


def _documents() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(SCHEMA_DIR.rglob("*.json")):
        if path == STAND_INS_FILE:
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        documents[str(document["$id"])] = document
    return documents


@functools.cache
def _registry() -> Registry[Any]:
    documents = _documents()
    resources = {
        uri: Resource.from_contents(document, default_specification=DRAFT202012)
        for uri, document in documents.items()
    }
    stand_ins = json.loads(STAND_INS_FILE.read_text(encoding="utf-8"))["standIns"]
    for uri, vendored in stand_ins.items():
        resources[uri] = resources[vendored]
    return Registry().with_resources(resources.items())


def known_schemas() -> frozenset[str]:
    """Every schema document URL (without fragment) that events may name."""
    return frozenset(str(uri) for uri in _registry())


@functools.cache
def _validator(schema_url: str) -> Any:
    return Draft202012Validator({"$ref": schema_url}, registry=_registry(), format_checker=_FORMATS)


def _pointer(base: str, path: Sequence[object]) -> str:
    return base + "".join(f"/{step}" for step in path) or "/"


def _check(instance: object, schema_url: str, location: str) -> list[str]:
    document, _, fragment = schema_url.partition("#")
    where = location or "/"
    if document not in known_schemas():
        return [f"{where}: unknown schema {schema_url}"]
    if not fragment:
        return [f"{where}: schema URL {schema_url} names no definition (#/$defs/...)"]
    try:
        found = _validator(schema_url).iter_errors(instance)
        errors = sorted(found, key=lambda e: [str(step) for step in e.absolute_path])
        return [f"{_pointer(location, list(e.absolute_path))}: {e.message}" for e in errors]
    except referencing.exceptions.Unresolvable as unresolvable:
        # Upstream 2-0-1 tries its per-facet schemas only once a facet breaks the base rules.
        return [f"{where}: cannot finish checking {schema_url}: {unresolvable.ref} is not vendored"]


def _facet_maps(event: Mapping[str, Any]) -> Iterator[tuple[str, object]]:
    for part in ("run", "job"):
        entity = event.get(part)
        if isinstance(entity, Mapping):
            yield f"/{part}/facets", entity.get("facets")
    for part, own in _DATASET_FACET_MAPS.items():
        datasets = event.get(part)
        if not isinstance(datasets, list):
            continue
        for index, dataset in enumerate(datasets):
            if isinstance(dataset, Mapping):
                yield f"/{part}/{index}/facets", dataset.get("facets")
                yield f"/{part}/{index}/{own}", dataset.get(own)


def facets_of(event: Mapping[str, Any]) -> Iterator[tuple[str, object]]:
    """Every facet of an event with its location, e.g. ``/run/facets/parent``."""
    for location, facets in _facet_maps(event):
        if isinstance(facets, Mapping):
            for name, facet in facets.items():
                yield f"{location}/{name}", facet


def validate_event(event: Mapping[str, Any]) -> list[str]:
    """Every way a run event breaks its schema or a facet's schema; empty when it is valid."""
    schema_url = event.get("schemaURL")
    if isinstance(schema_url, str):
        errors = _check(event, schema_url, "")
    else:
        errors = ["/schemaURL: missing, so the event names no OpenLineage schema"]
    for location, facet in facets_of(event):
        facet_url = facet.get("_schemaURL") if isinstance(facet, Mapping) else None
        if isinstance(facet_url, str):
            errors.extend(_check(facet, facet_url, location))
        else:
            errors.append(f"{location}: a facet must be an object naming its _schemaURL")
    return errors
