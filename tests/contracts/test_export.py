"""Contracts export to open standards, and the exports validate against those standards."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from contracts.export import ExportError, _validate_odcs, to_dcat_ap, to_json_schema, to_odcs
from contracts.registry import all_contracts, get_contract
from tillit.cli import app


@pytest.mark.parametrize("contract", all_contracts(), ids=lambda c: c.name)
def test_every_contract_exports_valid_odcs(contract) -> None:  # type: ignore[no-untyped-def]
    document = to_odcs(contract)
    properties = document["schema"][0]["properties"]
    assert [p["name"] for p in properties] == list(contract.field_names)
    assert {p["classification"] for p in properties} <= {
        "public",
        "internal",
        "personal",
        "sensitive",
    }


def test_a_broken_odcs_document_is_refused() -> None:
    document = to_odcs(get_contract("persons"))
    document["apiVersion"] = "v9"
    with pytest.raises(ExportError, match="apiVersion"):
        _validate_odcs(document)


def test_json_schema_accepts_a_real_row_and_refuses_an_extra_field() -> None:
    schema = to_json_schema(get_contract("ece_placements"))
    jsonschema.Draft202012Validator.check_schema(schema)
    row = {
        "placement_id": "77",
        "child_id": "020216A955U",
        "unit_code": "PK12",
        "unit_name": "Päiväkoti Mukkula",
        "application_date": "2025-01-10",
        "start_date": "2025-03-01",
        "end_date": None,
        "hours_per_week": 35,
        "monthly_fee_eur": 311.0,
        "status": "active",
    }
    jsonschema.validate(row, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**row, "nickname": "Eeli"}, schema)
    assert schema["properties"]["child_id"]["x-tillit-identifier"] == "direct"


def test_dcat_ap_marks_personal_data_as_non_public() -> None:
    persons = to_dcat_ap(get_contract("persons"))
    indicator = to_dcat_ap(get_contract("daycare_demand_by_district"))
    assert persons["dct:accessRights"]["@id"].endswith("NON_PUBLIC")
    assert indicator["dct:accessRights"]["@id"].endswith("/PUBLIC")
    assert persons["@type"] == "dcat:Dataset"


def test_the_cli_exports_each_format() -> None:
    runner = CliRunner()
    odcs = runner.invoke(app, ["contracts", "export", "persons", "--format", "odcs"])
    assert odcs.exit_code == 0 and yaml.safe_load(odcs.output)["kind"] == "DataContract"
    dcat = runner.invoke(app, ["contracts", "export", "persons", "--format", "dcat-ap"])
    assert json.loads(dcat.output)["dct:identifier"] == "persons"
    bad = runner.invoke(app, ["contracts", "export", "persons", "--format", "xml"])
    assert bad.exit_code == 2
