"""Contracts refuse to load when they break a governance rule, and everything derives from them."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest
import sqlalchemy as sa
from pandera.typing import Series

from contracts.base import Classification as C
from contracts.base import IdentifierKind as I
from contracts.base import governed
from contracts.catalog import describe
from contracts.define import define_contract
from contracts.errors import ContractError
from contracts.registry import all_contracts, get_contract
from contracts.store import make_engine, store_table
from tests.schema import prepare_store

GOOD: dict[str, Any] = {
    "name": "pupils",
    "version": "1.0.0",
    "owner": "team:basic-education",
    "source_system": "school_enrolment",
    "purposes": ("school_enrolment",),
    "legal_basis": "basic_education_act_628_1998",
    "retention": "P10Y",
    "primary_key": ("pupil_id",),
}


def _model(**fields: Any) -> type[pa.DataFrameModel]:
    annotations = dict.fromkeys(fields, Series[str])
    namespace = {"__annotations__": annotations, "__doc__": "Pupils.", **fields}
    return type("PupilsModel", (pa.DataFrameModel,), namespace)


def _pupil_id(**overrides: Any) -> Any:
    args = {
        "description": "Identity code",
        "classification": C.PERSONAL,
        "identifier": I.DIRECT,
        "source": "oppilas/hetu",
        "henkilotunnus": (),
    }
    return governed(**{**args, **overrides})


def test_a_well_formed_contract_loads() -> None:
    contract = define_contract(_model(pupil_id=_pupil_id()), **GOOD)
    assert contract.field("pupil_id").identifier is I.DIRECT
    assert contract.description == "Pupils."


def test_an_unclassified_field_is_refused_by_name() -> None:
    with pytest.raises(ContractError, match="'notes' is unclassified"):
        define_contract(
            _model(pupil_id=_pupil_id(), notes=pa.Field(description="Free text")), **GOOD
        )


def test_an_identity_code_not_marked_direct_is_refused() -> None:
    with pytest.raises(ContractError, match="'pupil_id' is a direct identifier"):
        define_contract(_model(pupil_id=_pupil_id(identifier=I.QUASI)), **GOOD)


def test_an_unmarked_name_or_address_is_refused() -> None:
    address = governed(description="Address", classification=C.PERSONAL, source="x.y")
    with pytest.raises(ContractError, match="'street_address' is a direct identifier"):
        define_contract(_model(pupil_id=_pupil_id(), street_address=address), **GOOD)


def test_sensitive_data_without_a_legal_basis_is_refused() -> None:
    support = governed(description="Support", classification=C.SENSITIVE, source="oppilas/tuki")
    with pytest.raises(ContractError, match="no legal basis of collection"):
        define_contract(
            _model(pupil_id=_pupil_id(), support=support), **{**GOOD, "legal_basis": ""}
        )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"version": "1.0"}, "not semantic"),
        ({"owner": "basic-education"}, "must be 'team:"),
        ({"retention": "ten years"}, "not an ISO duration"),
        ({"purposes": ()}, "no purpose of collection"),
        ({"primary_key": ("id",)}, "primary key field 'id' does not exist"),
    ],
)
def test_governance_metadata_is_checked(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ContractError, match=message):
        define_contract(_model(pupil_id=_pupil_id()), **{**GOOD, **override})


def test_every_registered_contract_has_governance_for_every_field() -> None:
    names = [contract.name for contract in all_contracts()]
    assert names[0] == "persons" and len(set(names)) == len(names) == 9
    for contract in all_contracts():
        assert contract.purposes and contract.legal_basis
        for spec in contract.fields:
            assert spec.description and spec.source


def test_unknown_contract_names_the_known_ones() -> None:
    with pytest.raises(ContractError, match="known: .*persons"):
        get_contract("pets")


def test_the_store_table_is_derived_from_the_contract() -> None:
    contract = get_contract("ece_placements")
    table = store_table(contract)
    assert [c.name for c in table.columns][: len(contract.fields)] == list(contract.field_names)
    assert [c.name for c in table.primary_key.columns] == ["placement_id"]
    assert isinstance(table.c.start_date.type, sa.Date) and table.c.start_date.nullable
    assert isinstance(table.c.monthly_fee_eur.type, sa.Float)
    assert not table.c.child_id.nullable
    assert "[personal]" in (table.c.child_id.comment or "")


def test_the_schema_is_created_in_a_real_database(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/nested/store.db")
    prepare_store(engine)
    tables = set(sa.inspect(engine).get_table_names())
    assert {contract.name for contract in all_contracts()} | {
        "quarantine",
        "dataset_loads",
    } <= tables


def test_the_catalog_description_carries_governance_per_field() -> None:
    entry = describe(get_contract("family_service_cases"))
    assert entry["classification"] == "sensitive"
    assert entry["legal_basis"] == "social_welfare_act_1301_2014"
    client = next(f for f in entry["fields"] if f["name"] == "client_id")
    assert client == {
        "name": "client_id",
        "type": "string",
        "nullable": False,
        "description": "Personal identity code of the client",
        "classification": "sensitive",
        "identifier": "direct",
        "source": "perhepalvelut.Henkilötunnus",
        "checks": ["henkilotunnus"],
    }
    assert pd.Series([f["name"] for f in entry["fields"]]).is_unique
