"""Every permitted share leaves one lineage event, queued with its audit record; denials none."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from broker.config.settings import BrokerSettings
from broker.main import create_app
from lineage.outbox import OutboxShipper
from lineage.transports import build_transport
from lineage.validation import validate_event
from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import ECE_REQUEST


def _rows(store_url: str, query: str) -> list[Any]:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        rows = list(conn.execute(sa.text(query)).all())
    engine.dispose()
    return rows


def test_a_share_queues_one_valid_lineage_event_that_ships_into_the_store(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    request = {**ECE_REQUEST, "fields": ["person_id", "district"]}
    share = client.post("/v1/shares?limit=3", json=request, headers=auth("lahti-education")).json()
    denied = client.post(
        "/v1/shares",
        json={**ECE_REQUEST, "purpose": "school_enrolment"},
        headers=auth("lahti-education"),
    )
    assert denied.status_code == 403
    queued = [
        json.loads(row.payload) if isinstance(row.payload, str) else row.payload
        for row in _rows(store_url, "SELECT payload FROM lineage_outbox")
    ]
    [event] = [e for e in queued if e["job"]["name"].startswith("share.")]
    assert validate_event(event) == []
    assert event["run"]["runId"] == share["share_id"]
    facet = event["run"]["facets"]["tillit_share"]
    assert (facet["partner"], facet["purpose"], facet["auditSeq"]) == (
        "lahti-education",
        "ece_placement",
        share["audit_seq"],
    )
    assert event["outputs"][0]["namespace"] == "tillit://partner/lahti-education"
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    shipper = OutboxShipper(runtime.engine, build_transport(store_url), runtime.clock)
    assert shipper.ship_once() == 1
    stored = _rows(
        store_url, "SELECT run_id, event_type FROM lineage_events WHERE job_name LIKE 'share.%'"
    )
    assert [(row.run_id, row.event_type) for row in stored] == [(share["share_id"], "COMPLETE")]
    edges = _rows(store_url, "SELECT output_field, input_field FROM lineage_column_edges")
    assert ("person_id", "person_id") in {(e.output_field, e.input_field) for e in edges}


def test_a_released_field_traces_back_to_its_legacy_field_and_pipeline_run(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    request = {**ECE_REQUEST, "fields": ["person_id", "district"]}
    assert (
        client.post("/v1/shares?limit=2", json=request, headers=auth("lahti-education")).status_code
        == 200
    )
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    OutboxShipper(runtime.engine, build_transport(store_url), runtime.clock).ship_once()
    edges = _rows(
        store_url,
        "SELECT output_namespace, output_name, output_field, input_namespace, input_name, "
        "input_field, run_id FROM lineage_column_edges",
    )
    upstream = {(e.output_namespace, e.output_name, e.output_field): e for e in edges}
    hop = upstream[("tillit://partner/lahti-education", "persons", "district")]
    assert (hop.input_namespace, hop.input_name, hop.input_field) == (
        "tillit://store",
        "persons",
        "district",
    )
    source = upstream[("tillit://store", "persons", "district")]
    assert (source.input_namespace, source.input_field) == (
        "legacy://population-register",
        "POSTINUMERO",
    )
    loads = _rows(
        store_url, "SELECT run_id FROM lineage_events WHERE job_name = 'pipeline.persons'"
    )
    assert source.run_id in {row.run_id for row in loads}


def test_the_share_trace_endpoint_shows_the_path_to_the_legacy_field_to_its_partner_only(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    request = {**ECE_REQUEST, "fields": ["district"]}
    share = client.post("/v1/shares?limit=2", json=request, headers=auth("lahti-education")).json()
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    OutboxShipper(runtime.engine, build_transport(store_url), runtime.clock).ship_once()
    path = f"/v1/lineage/shares/{share['share_id']}"
    trace = client.get(path, headers=auth("lahti-education"))
    assert trace.status_code == 200, trace.text
    [district] = trace.json()["fields"]
    [hops] = district["paths"]
    assert [(h["namespace"], h["field"]) for h in hops] == [
        ("tillit://store", "district"),
        ("legacy://population-register", "POSTINUMERO"),
    ]
    assert hops[1]["job"] == "pipeline.persons"
    assert client.get(path, headers=auth("tillit-operations")).status_code == 200
    assert client.get(path, headers=auth("kela")).status_code == 404


def test_the_dataset_graph_goes_up_and_down_and_partners_see_only_their_deliveries(
    client: TestClient, auth: Minter, store_url: str
) -> None:
    request = {**ECE_REQUEST, "fields": ["district"]}
    assert (
        client.post("/v1/shares?limit=2", json=request, headers=auth("lahti-education")).status_code
        == 200
    )
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    OutboxShipper(runtime.engine, build_transport(store_url), runtime.clock).ship_once()
    down = client.get(
        "/v1/lineage/datasets/tillit://store/persons",
        params={"direction": "downstream", "depth": 2},
        headers=auth("tillit-operations"),
    )
    assert down.status_code == 200, down.text
    names = {(d["namespace"], d["name"]) for d in down.json()["datasets"]}
    assert ("tillit://partner/lahti-education", "persons") in names
    assert ("tillit://store", "households") in names
    up = client.get(
        "/v1/lineage/datasets/tillit://partner/lahti-education/persons",
        params={"depth": 3},
        headers=auth("lahti-education"),
    )
    assert up.status_code == 200, up.text
    assert {
        "from": "legacy://population-register/population_register/VTJ_OTE.txt",
        "job": "pipeline.persons",
        "to": "tillit://store/persons",
    } in up.json()["edges"]
    assert {
        "from": "tillit://store/persons",
        "from_field": "district",
        "to": "tillit://partner/lahti-education/persons",
        "to_field": "district",
    } in up.json()["column_edges"]
    before = client.get(
        "/v1/lineage/datasets/tillit://partner/lahti-education/persons",
        params={"as_of": "2000-01-01T00:00:00+02:00"},
        headers=auth("tillit-operations"),
    )
    assert before.status_code == 404
    other = client.get(
        "/v1/lineage/datasets/tillit://partner/lahti-education/persons", headers=auth("kela")
    )
    store = client.get("/v1/lineage/datasets/tillit://store/persons", headers=auth("kela"))
    assert other.status_code == store.status_code == 404


def test_on_sqlite_one_worker_process_runs_each_kind_of_background_work(
    settings: BrokerSettings,
) -> None:
    # Two uvicorn workers over one SQLite file: the first to start holds each kind's lock,
    # the other serves requests only until the holder ends.
    first = create_app(settings.model_copy(update={"lineage_shipping": True}))
    second = create_app(settings.model_copy(update={"lineage_shipping": True}))
    for kind in ("lineage_shipper", "disclosure_indexer", "wal_checkpointer"):
        mine, theirs = (
            getattr(first.state, kind).runner_lock,
            getattr(second.state, kind).runner_lock,
        )
        assert mine.path == theirs.path
        assert mine.path.startswith(settings.database_url.removeprefix("sqlite:///"))
        try:
            assert mine.held()
            assert not theirs.held()
        finally:
            mine.release()
        assert theirs.held()
        theirs.release()
