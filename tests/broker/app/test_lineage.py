"""Every permitted share leaves one lineage event, queued with its audit record; denials none."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

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
    [queued] = _rows(store_url, "SELECT payload FROM lineage_outbox")
    event = json.loads(queued.payload) if isinstance(queued.payload, str) else queued.payload
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
    stored = _rows(store_url, "SELECT run_id, event_type FROM lineage_events")
    assert [(row.run_id, row.event_type) for row in stored] == [(share["share_id"], "COMPLETE")]
    edges = _rows(store_url, "SELECT output_field, input_field FROM lineage_column_edges")
    assert ("person_id", "person_id") in {(e.output_field, e.input_field) for e in edges}
