"""Run events built from the contracts: valid for every contract, traceable field by field."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from openlineage.client.event_v2 import RunEvent

from contracts.base import Classification, Contract, IdentifierKind
from contracts.registry import all_contracts, get_contract
from lineage import shares as shares_module
from lineage.events import (
    PipelineRun,
    pipeline_abort,
    pipeline_complete,
    pipeline_fail,
    pipeline_start,
    share_complete,
    share_complete_dict,
    to_dict,
    with_audit_position,
)
from lineage.facets import SHARE_FACET
from lineage.namespaces import share_run_id
from lineage.validation import SCHEMA_DIR, validate_event
from orchestration.legacy.drop import FILES

NOW = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
DAGSTER_RUN = "5f0c9a52-7d1e-4c55-9b7a-2f0de3c1a001"
CONTRACTS = {contract.name: contract for contract in all_contracts()}


def _run(contract: Contract, asset: str | None = None) -> PipelineRun:
    return PipelineRun(DAGSTER_RUN, "nightly_load", asset or contract.name, contract, FILES)


def _failed(run: PipelineRun, when: datetime) -> RunEvent:
    try:
        raise RuntimeError("the extract ended mid-record")
    except RuntimeError as error:
        return pipeline_fail(run, when, error=error)


def _completed(run: PipelineRun, when: datetime) -> RunEvent:
    checks = [("unique_primary_key", True, None), ("henkilotunnus", False, "person_id")]
    return pipeline_complete(run, when, rows_loaded=1480, rows_quarantined=20, check_results=checks)


PIPELINE_BUILDERS: dict[str, Callable[[PipelineRun, datetime], RunEvent]] = {
    "start": pipeline_start,
    "complete": _completed,
    "fail": _failed,
    "abort": pipeline_abort,
}


def _share(contract: Contract, partner: str = "lahti-ece", **overrides: Any) -> dict[str, Any]:
    direct = [s.name for s in contract.fields if s.identifier is IdentifierKind.DIRECT]
    released = [s.name for s in contract.fields if s.name not in direct]
    arguments: dict[str, Any] = {
        "share_id": str(uuid.uuid4()),
        "contract": contract,
        "partner": partner,
        "purpose": "knowledge_management",
        "legal_basis": "secondary_use_act_552_2019",
        "agreement_id": "lahti-ece-planning",
        "agreement_version": "1.2.0",
        "fields_released": released,
        "withheld": [(name, "direct_identifier") for name in direct],
        "transforms": {released[0]: "pseudonymise"},
        "audit_seq": 42,
        "audit_hash": "ab" * 32,
        "row_count": 17,
        "event_time": NOW,
    }
    arguments.update(overrides)
    return to_dict(share_complete(**arguments))


def _input_fields(event: dict[str, Any], field: str) -> list[tuple[str, str, str]]:
    lineage = event["outputs"][0]["facets"]["columnLineage"]["fields"][field]
    return [(i["namespace"], i["name"], i["field"]) for i in lineage["inputFields"]]


@pytest.mark.parametrize("builder", PIPELINE_BUILDERS)
@pytest.mark.parametrize("name", CONTRACTS)
def test_pipeline_events_validate_for_every_contract(name: str, builder: str) -> None:
    event = to_dict(PIPELINE_BUILDERS[builder](_run(CONTRACTS[name]), NOW))
    assert validate_event(event) == []


@pytest.mark.parametrize("name", CONTRACTS)
def test_share_events_validate_for_every_contract(name: str) -> None:
    assert validate_event(_share(CONTRACTS[name])) == []


def test_district_traces_to_the_postal_code_of_the_population_register_file() -> None:
    event = to_dict(pipeline_start(_run(get_contract("persons")), NOW))
    register = ("legacy://population-register", "population_register/VTJ_OTE.txt")
    assert _input_fields(event, "postal_code") == [(*register, "POSTINUMERO")]
    assert _input_fields(event, "district") == [(*register, "POSTINUMERO")]
    lineage = event["outputs"][0]["facets"]["columnLineage"]["fields"]["district"]
    (transformation,) = lineage["inputFields"][0]["transformations"]
    assert transformation["subtype"] == "TRANSFORMATION"
    assert "postal_code" in transformation["description"]


def test_child_id_traces_to_the_placements_table_of_the_daycare_database() -> None:
    event = to_dict(pipeline_start(_run(get_contract("ece_placements")), NOW))
    assert _input_fields(event, "child_id") == [
        ("legacy://early-childhood-education", "LPS_SIJ", "LPS_HTU")
    ]
    assert _input_fields(event, "unit_name") == [
        ("legacy://early-childhood-education", "YKS", "YKS_NMI")
    ]
    assert {(i["namespace"], i["name"]) for i in event["inputs"]} == {
        ("legacy://early-childhood-education", "LPS_SIJ"),
        ("legacy://early-childhood-education", "YKS"),
    }


def test_store_derived_fields_trace_to_the_upstream_store_dataset() -> None:
    event = to_dict(pipeline_start(_run(get_contract("households")), NOW))
    assert _input_fields(event, "household_id") == [("tillit://store", "persons", "dwelling_id")]
    assert [(i["namespace"], i["name"]) for i in event["inputs"]] == [("tillit://store", "persons")]


def test_xml_and_csv_extracts_are_named_by_file() -> None:
    school = to_dict(pipeline_start(_run(get_contract("school_enrolments")), NOW))
    files = {(i["namespace"], i["name"]) for i in school["inputs"]}
    assert files == {("legacy://school-enrolment", "school_enrolment/ilmoittautumiset.xml")}
    cases = to_dict(pipeline_start(_run(get_contract("family_service_cases")), NOW))
    assert {i["name"] for i in cases["inputs"]} == {"family_services/perhepalvelut.csv"}


def test_a_load_writes_the_store_table_and_counts_rows_and_quarantine() -> None:
    event = to_dict(_completed(_run(get_contract("persons")), NOW))
    table, rejects = event["outputs"]
    assert (table["namespace"], table["name"]) == ("tillit://store", "persons")
    assert table["outputFacets"]["outputStatistics"]["rowCount"] == 1480
    assert (rejects["name"], rejects["outputFacets"]["outputStatistics"]["rowCount"]) == (
        "quarantine",
        20,
    )
    assertions = table["facets"]["dataQualityAssertions"]["assertions"]
    assert [(a["name"], a["success"], a.get("column")) for a in assertions] == [
        ("unique_primary_key", True, None),
        ("henkilotunnus", False, "person_id"),
    ]
    assert event["job"] == event["job"] | {"namespace": "tillit", "name": "pipeline.persons"}


def test_store_table_facets_say_what_the_contract_says() -> None:
    contract = get_contract("persons")
    facets = to_dict(pipeline_start(_run(contract), NOW))["outputs"][0]["facets"]
    schema = {f["name"]: (f["type"], f["description"]) for f in facets["schema"]["fields"]}
    assert schema == {s.name: (s.dtype, s.description) for s in contract.fields}
    governance = facets["tillit_governance"]
    assert (governance["contractName"], governance["contractVersion"]) == ("persons", "1.0.0")
    assert governance["legalBasis"] == contract.legal_basis
    assert {f["name"]: f["identifier"] for f in governance["fields"]}["person_id"] == "direct"
    assert facets["ownership"]["owners"] == [{"name": contract.owner}]


def test_failure_carries_the_error_and_abort_has_its_own_state() -> None:
    run = _run(get_contract("persons"))
    failed = to_dict(_failed(run, NOW))
    error = failed["run"]["facets"]["errorMessage"]
    assert failed["eventType"] == "FAIL"
    assert error["message"] == "RuntimeError: the extract ended mid-record"
    assert error["programmingLanguage"] == "PYTHON"
    assert "_failed" in error["stackTrace"]
    assert to_dict(pipeline_abort(run, NOW))["eventType"] == "ABORT"


def test_run_ids_are_stable_per_dagster_run_and_asset_and_link_to_the_dagster_run() -> None:
    persons = get_contract("persons")
    first = to_dict(pipeline_start(_run(persons), NOW))
    again = to_dict(_completed(_run(persons), NOW))
    other = to_dict(pipeline_start(_run(get_contract("households")), NOW))
    assert first["run"]["runId"] == again["run"]["runId"]
    assert first["run"]["runId"] != other["run"]["runId"]
    assert first["run"]["runId"] != DAGSTER_RUN
    uuid.UUID(first["run"]["runId"])
    parent = first["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == DAGSTER_RUN
    assert parent["job"] == {"namespace": "tillit", "name": "dagster.nightly_load", "facets": {}}


def test_share_run_ids_are_distinct_uuids_in_the_order_they_were_made() -> None:
    ids = [share_run_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    # Time-ordered to the millisecond (its first 48 bits): each new share's rows go to the ends
    # of the indexes keyed by its id.
    millis = [uuid.UUID(run_id).int >> 80 for run_id in ids]
    assert millis == sorted(millis) and millis[0] <= time.time_ns() // 10**6
    assert {uuid.UUID(run_id).version for run_id in ids} == {7}


def test_share_event_carries_its_terms_and_delivers_to_the_partner() -> None:
    contract = get_contract("persons")
    event = _share(contract, partner="lahti-ece", share_id="1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b")
    terms = event["run"]["facets"]["tillit_share"]
    assert event["run"]["runId"] == terms["shareId"] == "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"
    assert event["job"]["name"] == "share.persons"
    assert (terms["partner"], terms["purpose"]) == ("lahti-ece", "knowledge_management")
    assert (terms["agreementId"], terms["agreementVersion"]) == ("lahti-ece-planning", "1.2.0")
    assert (terms["auditSeq"], terms["auditHash"]) == (42, "ab" * 32)
    assert {"field": "person_id", "reason": "direct_identifier"} in terms["fieldsWithheld"]
    assert terms["transforms"] == [{"field": "first_names", "transform": "pseudonymise"}]
    assert [(i["namespace"], i["name"]) for i in event["inputs"]] == [("tillit://store", "persons")]
    (delivery,) = event["outputs"]
    assert (delivery["namespace"], delivery["name"]) == ("tillit://partner/lahti-ece", "persons")
    assert [f["name"] for f in delivery["facets"]["schema"]["fields"]] == terms["fieldsReleased"]
    assert "person_id" not in terms["fieldsReleased"]
    assert delivery["outputFacets"]["outputStatistics"]["rowCount"] == 17


def test_share_column_lineage_marks_transformed_fields_as_masked() -> None:
    contract = get_contract("persons")
    released = [s.name for s in contract.fields if s.identifier is not IdentifierKind.DIRECT]
    # As the policy engine gives them: every released field with its transform, "keep" included.
    transforms = dict.fromkeys(released, "keep") | {"first_names": "pseudonymise"}
    event = _share(contract, transforms=transforms)
    lineage = event["outputs"][0]["facets"]["columnLineage"]["fields"]
    (masked,) = lineage["first_names"]["inputFields"]
    (kept,) = lineage["district"]["inputFields"]
    assert (masked["namespace"], masked["name"], masked["field"]) == (
        "tillit://store",
        "persons",
        "first_names",
    )
    assert masked["transformations"][0]["masking"] is True
    assert masked["transformations"][0]["description"] == "pseudonymise"
    assert kept["transformations"][0]["subtype"] == "IDENTITY"
    assert kept["transformations"][0]["masking"] is False


def test_share_refuses_fields_the_contract_does_not_have() -> None:
    with pytest.raises(Exception, match="no field 'salary'"):
        _share(get_contract("persons"), fields_released=["salary"], transforms={})


def test_naive_event_times_and_missing_legacy_files_are_refused() -> None:
    persons = get_contract("persons")
    with pytest.raises(ValueError, match="timezone-aware"):
        pipeline_start(_run(persons), datetime(2026, 3, 2, 8, 15))
    run = PipelineRun(DAGSTER_RUN, "nightly_load", "persons", persons, {})
    with pytest.raises(ValueError, match="population_register"):
        pipeline_start(run, NOW)


def test_governance_schema_enumerates_the_contract_vocabulary() -> None:
    schema = json.loads((SCHEMA_DIR / "TillitGovernanceDatasetFacet-1-0-0.json").read_text())
    definitions = schema["$defs"]
    assert definitions["Classification"]["enum"] == [c.value for c in Classification]
    identifier = definitions["GovernedField"]["properties"]["identifier"]
    assert identifier["enum"] == [kind.value for kind in IdentifierKind]


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_the_brokers_share_event_data_is_the_serialised_event(name: str) -> None:
    contract = CONTRACTS[name]
    for number in range(3):
        share_id = str(uuid.uuid4())
        values: dict[str, Any] = {"share_id": share_id, "audit_seq": number, "row_count": number}
        values |= {"audit_hash": f"{number:064x}", "event_time": NOW.replace(minute=number)}
        for partner in ("lahti-ece", "kela"):
            expected = _share(contract, partner, **values)
            direct = [s.name for s in contract.fields if s.identifier is IdentifierKind.DIRECT]
            released = [s.name for s in contract.fields if s.name not in direct]
            arguments: dict[str, Any] = {
                "contract": contract,
                "partner": partner,
                "purpose": "knowledge_management",
                "legal_basis": "secondary_use_act_552_2019",
                "agreement_id": "lahti-ece-planning",
                "agreement_version": "1.2.0",
                "fields_released": released,
                "withheld": [(field, "direct_identifier") for field in direct],
                "transforms": {released[0]: "pseudonymise"},
                **values,
            }
            assert share_complete_dict(**arguments) == expected
            unplaced = share_complete_dict(**arguments | {"audit_seq": 0, "audit_hash": "0" * 64})
            placed = with_audit_position(unplaced, values["audit_seq"], values["audit_hash"])
            assert placed == expected


def _template_text(**extra_facet: Any) -> str:
    event = _share(get_contract("persons"))
    event["run"]["facets"]["extra"] = {"_producer": "p", "_schemaURL": "s", **extra_facet}
    return json.dumps(event)


def test_share_templates_keep_what_json_reads_exactly() -> None:
    """The template is read by the json module once: an integer beyond 64 bits stays an
    integer, and NaN stays NaN, in every share's event."""
    huge = shares_module._template(_template_text(count=2**70, ratio=float("nan")))
    extra = huge["run"]["facets"]["extra"]
    assert extra["count"] == 2**70 and isinstance(extra["count"], int)
    assert extra["ratio"] != extra["ratio"]


def test_share_templates_are_checked_as_client_events_when_built() -> None:
    broken = json.loads(_template_text())
    del broken["job"]
    with pytest.raises(KeyError):
        shares_module._template(json.dumps(broken))


def test_each_share_event_owns_what_it_sets_and_cannot_change_its_template() -> None:
    contract = get_contract("persons")
    arguments: dict[str, Any] = {
        "contract": contract,
        "partner": "lahti-ece",
        "purpose": "knowledge_management",
        "legal_basis": "secondary_use_act_552_2019",
        "agreement_id": "lahti-ece-planning",
        "agreement_version": "1.2.0",
        "fields_released": ["birth_date"],
        "withheld": [],
        "transforms": {},
        "audit_seq": 1,
        "audit_hash": "ab" * 32,
        "row_count": 3,
        "event_time": NOW,
    }
    first = share_complete_dict(share_id=str(uuid.uuid4()), **arguments)
    # What a share sets is its own: the paths to its id, time, audit position and row count.
    first["run"]["facets"]["tampered"] = True
    first["run"]["facets"][SHARE_FACET]["auditSeq"] = 99
    first["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] = 99
    first["outputs"].append({"namespace": "elsewhere"})
    # The rest is the template's, shared by every share under the terms, and refuses change.
    with pytest.raises(TypeError):
        first["job"]["facets"].clear()
    with pytest.raises(TypeError):
        first["inputs"].append({"namespace": "elsewhere"})
    with pytest.raises(TypeError):
        first["outputs"][0]["facets"]["schema"]["fields"][0]["name"] = "renamed"
    second = share_complete_dict(share_id=str(uuid.uuid4()), **arguments)
    assert "tampered" not in second["run"]["facets"] and second["job"]["facets"]
    assert second["run"]["facets"][SHARE_FACET]["auditSeq"] == 1
    assert second["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 3
    assert len(second["outputs"]) == 1 and len(second["inputs"]) == 1
    assert second["outputs"][0]["facets"]["schema"]["fields"][0]["name"] == "birth_date"
