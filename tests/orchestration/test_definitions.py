"""The Definitions load and show operators what the contracts say."""

from __future__ import annotations

import dagster as dg

from contracts.registry import all_contracts
from orchestration.definitions import build_definitions, defs


def test_the_definitions_load_with_every_contract_as_an_asset() -> None:
    dg.Definitions.validate_loadable(defs)
    graph = build_definitions().resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {contract.name for contract in all_contracts()} <= keys
    assert {"legacy/population_register", "legacy/family_services"} <= keys


def test_assets_are_grouped_by_source_system_with_owners() -> None:
    graph = build_definitions().resolve_asset_graph()
    persons = graph.get(dg.AssetKey("persons"))
    assert persons.group_name == "population_register"
    assert persons.owners == ["team:population-data"]
    cases = graph.get(dg.AssetKey("family_service_cases"))
    assert cases.group_name == "family_services"
    assert dg.AssetKey("persons") in cases.parent_keys


def test_column_schema_carries_classifications() -> None:
    graph = build_definitions().resolve_asset_graph()
    schema = graph.get(dg.AssetKey("persons")).metadata["dagster/column_schema"]
    person_id = next(column for column in schema.columns if column.name == "person_id")
    assert person_id.tags == {"classification": "personal", "identifier": "direct"}
    assert "henkilötunnus" in (person_id.description or "")


def test_every_dataset_has_blocking_checks_from_its_contract() -> None:
    graph = build_definitions().resolve_asset_graph()
    names = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert {
        ("persons", "reconciliation"),
        ("persons", "quarantine_rate"),
        ("persons", "schema_conformance"),
        ("persons", "freshness"),
        ("ece_placements", "referential_integrity"),
        ("daycare_demand_by_district", "disclosure_control"),
    } <= names


def test_a_daily_schedule_and_a_drop_sensor_exist() -> None:
    definitions = build_definitions()
    assert definitions.resolve_schedule_def("daily_refresh").cron_schedule == "0 5 * * *"
    assert definitions.resolve_sensor_def("legacy_drop_sensor") is not None
