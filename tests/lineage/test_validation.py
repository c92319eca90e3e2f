"""Validation against the vendored OpenLineage schemas and Tillit's facet schemas, offline."""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts.registry import get_contract
from lineage.events import PipelineRun, pipeline_start, share_complete, to_dict
from lineage.validation import SCHEMA_DIR, STAND_INS_FILE, known_schemas, validate_event
from orchestration.legacy.drop import FILES

NOW = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)


@pytest.fixture
def share_event() -> dict[str, Any]:
    """A valid share event to break in different ways."""
    event = share_complete(
        share_id=str(uuid.uuid4()),
        contract=get_contract("daycare_demand_by_district"),
        partner="hyvinvointialue",
        purpose="knowledge_management",
        legal_basis="secondary_use_act_552_2019",
        agreement_id="district-planning",
        agreement_version="2.0.0",
        fields_released=["district", "children_1_to_6"],
        withheld=[],
        transforms={},
        audit_seq=7,
        audit_hash="0f" * 32,
        row_count=9,
        event_time=NOW,
    )
    return to_dict(event)


def test_a_valid_event_has_no_errors(share_event: dict[str, Any]) -> None:
    assert validate_event(share_event) == []


def test_missing_event_time_is_reported(share_event: dict[str, Any]) -> None:
    del share_event["eventTime"]
    assert validate_event(share_event) == ["/: 'eventTime' is a required property"]


def test_an_event_time_that_is_no_timestamp_is_reported(share_event: dict[str, Any]) -> None:
    share_event["eventTime"] = "2026-03-02"
    assert validate_event(share_event) == ["/eventTime: '2026-03-02' is not a 'date-time'"]


def test_a_wrongly_typed_tillit_facet_field_is_reported(share_event: dict[str, Any]) -> None:
    share_event["run"]["facets"]["tillit_share"]["auditSeq"] = "7"
    assert validate_event(share_event) == [
        "/run/facets/tillit_share/auditSeq: '7' is not of type 'integer'"
    ]


def test_a_wrongly_typed_openlineage_facet_field_is_reported(share_event: dict[str, Any]) -> None:
    statistics = share_event["outputs"][0]["outputFacets"]["outputStatistics"]
    statistics["rowCount"] = "nine"
    assert validate_event(share_event) == [
        "/outputs/0/outputFacets/outputStatistics/rowCount: 'nine' is not of type 'integer'"
    ]


def test_a_governance_classification_outside_the_vocabulary_is_reported() -> None:
    run = PipelineRun(str(uuid.uuid4()), "nightly_load", "persons", get_contract("persons"), FILES)
    event = to_dict(pipeline_start(run, NOW))
    event["outputs"][0]["facets"]["tillit_governance"]["fields"][0]["classification"] = "secret"
    (error,) = validate_event(event)
    assert error.startswith("/outputs/0/facets/tillit_governance/fields/0/classification: 'secret'")


def test_a_run_id_that_is_no_uuid_is_reported(share_event: dict[str, Any]) -> None:
    share_event["run"]["runId"] = "share-7"
    assert validate_event(share_event) == ["/run/runId: 'share-7' is not a 'uuid'"]


def test_unknown_schema_urls_are_errors(share_event: dict[str, Any]) -> None:
    unknown_core = copy.deepcopy(share_event)
    unknown_core["schemaURL"] = "https://openlineage.io/spec/9-9-9/OpenLineage.json#/$defs/RunEvent"
    assert validate_event(unknown_core) == [
        "/: unknown schema https://openlineage.io/spec/9-9-9/OpenLineage.json#/$defs/RunEvent"
    ]
    custom = {"_producer": "https://example.org", "_schemaURL": "https://example.org/F.json#/x"}
    share_event["job"]["facets"]["example_custom"] = custom
    assert validate_event(share_event) == [
        "/job/facets/example_custom: unknown schema https://example.org/F.json#/x"
    ]


def test_a_facet_without_producer_is_reported_where_it_is(share_event: dict[str, Any]) -> None:
    del share_event["run"]["facets"]["tillit_share"]["_producer"]
    errors = validate_event(share_event)
    assert "/run/facets/tillit_share: '_producer' is a required property" in errors


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _schema_files() -> list[Path]:
    return [path for path in sorted(SCHEMA_DIR.rglob("*.json")) if path != STAND_INS_FILE]


@pytest.mark.parametrize("path", _schema_files(), ids=lambda path: path.name)
def test_every_absolute_reference_resolves_offline_and_names_match_versions(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    version = re.search(r"/(\d+-\d+-\d+)/", schema["$id"])
    assert version is not None and path.stem.endswith(version.group(1))
    for ref in _refs(schema):
        if ref.startswith("https://"):
            assert ref.partition("#")[0] in known_schemas(), ref


def test_stand_ins_point_at_vendored_documents() -> None:
    vendored = {json.loads(path.read_text())["$id"] for path in _schema_files()}
    stand_ins = json.loads(STAND_INS_FILE.read_text())["standIns"]
    assert set(stand_ins.values()) <= vendored
    assert not set(stand_ins) & vendored
