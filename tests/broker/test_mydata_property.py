"""Own-data export as a property: a person gets exactly their rows, never another person's."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from broker.auth.principal import Principal
from broker.config.settings import BrokerSettings
from broker.mydata.export import SubjectExporter
from broker.mydata.formats import export_csv, export_document
from broker.runtime import BrokerRuntime, build_runtime
from broker.sharing.recording import ShareRecorder
from contracts.base import Contract
from contracts.store import store_table
from tests.broker.conftest import DemoEnvironment
from tests.schema import migrate

CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
DATASETS = ("persons", "ece_placements", "family_service_cases")


def identity_code(day: int, month: int, year: int, century: str, individual: int) -> str:
    """A henkilötunnus with a correct check character."""
    digits = f"{day:02d}{month:02d}{year:02d}{individual:03d}"
    check = CHECK_CHARACTERS[int(digits) % 31]
    return f"{day:02d}{month:02d}{year:02d}{century}{individual:03d}{check}"


identity_codes = st.builds(
    identity_code,
    st.integers(1, 28),
    st.integers(1, 12),
    st.integers(0, 99),
    st.sampled_from("-A"),
    st.integers(2, 899),
)
# Each person: how many placements and family service cases they have.
people = st.dictionaries(
    identity_codes, st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=8
)


def _value(contract: Contract, name: str, serial: str) -> Any:
    dtype = contract.field(name).dtype
    if dtype == "date":
        return date(2024, 1, 1)
    if dtype == "integer":
        return 30
    if dtype == "number":
        return 12.5
    if dtype == "boolean":
        return True
    return f"{name}-{serial}"


def _row(contract: Contract, subject_field: str, code: str, serial: str) -> dict[str, Any]:
    row = {spec.name: _value(contract, spec.name, serial) for spec in contract.fields}
    row[subject_field] = code
    if contract.name == "ece_placements":
        row["status"] = "active"
    if contract.name == "family_service_cases":
        row["case_type"] = "family_work"
    return row


@pytest.fixture(scope="module")
def runtime(
    demo: DemoEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrokerRuntime]:
    root = tmp_path_factory.mktemp("mydata")
    checkpoint = Path(root / "checkpoint.pem")
    checkpoint.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    built = build_runtime(
        BrokerSettings(
            config_dir=demo.config_dir,
            database_url=migrate(f"sqlite:///{root / 'store.db'}"),
            pseudonym_key=SecretStr("p" * 64),
            checkpoint_key_file=checkpoint,
            audience="https://tillit.lahti.fi/broker",
            lineage_shipping=False,
        )
    )
    yield built
    built.engine.dispose()


def _load(runtime: BrokerRuntime, population: dict[str, tuple[int, int]]) -> None:
    subject_fields = {
        "persons": "person_id",
        "ece_placements": "child_id",
        "family_service_cases": "client_id",
    }
    with runtime.engine.begin() as conn:
        for name in DATASETS:
            conn.execute(store_table(runtime.contracts[name]).delete())
        for number, (code, (placements, cases)) in enumerate(sorted(population.items())):
            counts = {"persons": 1, "ece_placements": placements, "family_service_cases": cases}
            for name, count in counts.items():
                contract = runtime.contracts[name]
                rows = [
                    _row(contract, subject_fields[name], code, f"{number}-{index}")
                    for index in range(count)
                ]
                if rows:
                    conn.execute(store_table(contract).insert(), rows)


def _citizen(code: str) -> Principal:
    return Principal(
        partner_id="suomi-citizen-portal",
        kind="citizen_portal",
        roles=("disclosure_lookup",),
        subject=code,
        issuer="https://idp.suomi.fi/citizen",
        jti=str(uuid.uuid4()),
        client_id="suomi-citizen-portal",
        expires_at=datetime.now(UTC) + timedelta(minutes=2),
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(population=people, data=st.data())
def test_an_export_holds_exactly_the_persons_rows_and_nothing_of_anyone_else(
    runtime: BrokerRuntime, population: dict[str, tuple[int, int]], data: st.DataObject
) -> None:
    _load(runtime, population)
    person = data.draw(st.sampled_from(sorted(population)))
    exporter = SubjectExporter(runtime, ShareRecorder(runtime))
    export = exporter.export(_citizen(person.lower() if data.draw(st.booleans()) else person))
    by_dataset = {item.dataset: item for item in export.datasets}
    placements, cases = population[person]
    assert len(by_dataset["persons"].rows) == 1
    assert by_dataset["persons"].rows[0]["person_id"] == person
    assert len(by_dataset["ece_placements"].rows) == placements
    assert {row["child_id"] for row in by_dataset["ece_placements"].rows} <= {person}
    assert len(by_dataset["family_service_cases"].rows) == cases
    assert by_dataset["school_enrolments"].rows == []
    # Nothing of any other person leaves, in either format.
    everything = json.dumps(export_document(export)) + export_csv(export)
    for other in population:
        if other != person:
            assert other not in everything
    # The withheld field is named with its reason, and never carries a value.
    withheld = by_dataset["family_service_cases"].withheld
    assert [(item.field, item.reason) for item in withheld] == [("case_type", "withheld_by_law")]
    assert all("case_type" not in row for row in by_dataset["family_service_cases"].rows)
    assert "family_work" not in everything
