"""The transport follows openlineage-python's configuration, defaulting to the Tillit store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from openlineage.client import OpenLineageClient
from openlineage.client.serde import Serde
from openlineage.client.transport import CompositeTransport, HttpTransport, Transport
from sqlalchemy.engine import Engine

from lineage.store import event_id, lineage_events
from lineage.transports import (
    OUTBOX_HTTP_RETRY,
    TillitStoreTransport,
    build_transport,
    run_event_from_dict,
)
from tests.lineage.test_store import lineage_engine, run_event, share_event


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A fresh SQLite store; the working directory holds no stray openlineage.yml."""
    monkeypatch.chdir(tmp_path)
    engine = lineage_engine(tmp_path)
    yield engine
    engine.dispose()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _stored_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(lineage_events.c.event_id)).scalars())


def test_without_configuration_events_go_to_the_tillit_store(engine: Engine) -> None:
    transport = build_transport(_url(engine), environ={})
    assert isinstance(transport, TillitStoreTransport)
    event = run_event()
    OpenLineageClient(transport=transport).emit(run_event_from_dict(event))
    assert _stored_ids(engine) == [event_id(event)]
    transport.close()


@pytest.mark.parametrize(
    ("environ", "yml", "kind"),
    [
        ({}, None, "tillit_store"),
        ({"OPENLINEAGE_URL": "http://marquez:5000"}, None, "http"),
        ({"OPENLINEAGE_DISABLED": "true", "OPENLINEAGE_URL": "http://marquez:5000"}, None, "noop"),
        ({}, "transport: {type: console}", "console"),
        ({}, "transport: {type: http, url: 'http://marquez:5000'}", "http"),
        (
            {"OPENLINEAGE__TRANSPORT__TYPE": "file", "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH": "x"},
            None,
            "file",
        ),
        ({"OPENLINEAGE__TRANSPORT__TYPE": "file"}, "transport: {type: console}", "console"),
        (
            {"OPENLINEAGE_URL": "http://marquez:5000"},
            "transport: {type: tillit_store}",
            "tillit_store",
        ),
    ],
)
def test_the_transport_follows_openlineage_configuration(
    engine: Engine, tmp_path: Path, environ: dict[str, str], yml: str | None, kind: str
) -> None:
    if yml is not None:
        (tmp_path / "openlineage.yml").write_text(yml)
    transport = build_transport(_url(engine), environ=environ)
    assert transport.kind == kind
    transport.close()


def test_openlineage_config_names_the_file(engine: Engine, tmp_path: Path) -> None:
    elsewhere = tmp_path / "conf" / "lineage.yml"
    elsewhere.parent.mkdir()
    elsewhere.write_text("transport: {type: console}")
    transport = build_transport(_url(engine), environ={"OPENLINEAGE_CONFIG": str(elsewhere)})
    assert transport.kind == "console"
    with pytest.raises(FileNotFoundError):
        build_transport(_url(engine), environ={}, config_path=tmp_path / "missing.yml")


def test_http_leaves_retries_to_the_outbox_unless_configured(engine: Engine) -> None:
    from_url = build_transport(_url(engine), environ={"OPENLINEAGE_URL": "http://marquez:5000"})
    assert isinstance(from_url, HttpTransport)
    assert (from_url.url, from_url.endpoint) == ("http://marquez:5000", "api/v1/lineage")
    assert from_url.config.retry["total"] == OUTBOX_HTTP_RETRY["total"] == 0
    environ = {
        "OPENLINEAGE__TRANSPORT__TYPE": "http",
        "OPENLINEAGE__TRANSPORT__URL": "http://marquez:5000",
        "OPENLINEAGE__TRANSPORT__RETRY": '{"total": 2}',
    }
    configured = build_transport(_url(engine), environ=environ)
    assert isinstance(configured, HttpTransport) and configured.config.retry["total"] == 2


def test_the_openlineage_client_itself_can_select_the_tillit_store(engine: Engine) -> None:
    config = {"transport": {"type": "tillit_store", "database_url": _url(engine)}}
    client = OpenLineageClient(config=config)
    assert isinstance(client.transport, TillitStoreTransport)
    event = run_event()
    client.emit(run_event_from_dict(event))
    assert _stored_ids(engine) == [event_id(event)]


def test_a_stored_event_round_trips_through_the_client_classes() -> None:
    event = share_event(0)
    event["run"]["facets"]["tillit_share"] = {
        "_producer": "https://github.com/tillit-fi/tillit",
        "_schemaURL": "https://tillit.fi/schemas/tillit_share/1-0-0.json",
        "shareId": "shr_0001",
        "fieldsReleased": ["child_id", "district"],
    }
    event["schemaURL"] = "https://openlineage.io/spec/2-0-0/OpenLineage.json#/$defs/RunEvent"
    assert Serde.to_dict(run_event_from_dict(event)) == event


def _kinds(transport: Transport) -> set[str | None]:
    assert isinstance(transport, CompositeTransport)
    return {member.kind for member in transport.transports}


def test_openlineage_url_joins_a_composite_configured_by_environment(engine: Engine) -> None:
    environ = {
        "OPENLINEAGE_URL": "http://marquez:5000",
        "OPENLINEAGE__TRANSPORT__TYPE": "composite",
        "OPENLINEAGE__TRANSPORT__TRANSPORTS__STORE__TYPE": "tillit_store",
    }
    assert _kinds(build_transport(_url(engine), environ=environ)) == {"http", "tillit_store"}
