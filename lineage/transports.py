"""Where lineage events go: the Tillit lineage store by default, or any configured transport."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attr
import yaml
from openlineage.client import event_v2
from openlineage.client.client import OpenLineageConfig
from openlineage.client.serde import Serde
from openlineage.client.transport import (
    CompositeTransport,
    Config,
    HttpConfig,
    HttpTransport,
    Transport,
    get_default_factory,
    register_transport,
)
from openlineage.client.transport.noop import NoopConfig, NoopTransport
from openlineage.client.utils import deep_merge_dicts
from sqlalchemy.engine import Connection

from contracts.schema_revision import require_current_schema
from contracts.store import make_engine
from lineage.store import (
    LineageEvent,
    LineageStore,
    PreparedEvents,
    prepare_events,
    record_many,
    write_prepared,
)

if TYPE_CHECKING:
    from openlineage.client.client import Event

_ENV_PREFIX: Final = "OPENLINEAGE__"
# The name openlineage-python gives the HTTP transport that OPENLINEAGE_URL adds to a composite.
_URL_TRANSPORT: Final = "OPENLINEAGE__TRANSPORT__TRANSPORTS__DEFAULT_HTTP"
# The outbox shipper retries with backoff; retries inside the HTTP transport would only hold it
# for several timeouts on a backend that is down. Applies where a configuration sets no retry.
OUTBOX_HTTP_RETRY: Final[Mapping[str, Any]] = {
    "total": 0,
    "connect": 0,
    "read": 0,
    "status": 0,
    "status_forcelist": [],
}


@attr.define
class TillitStoreConfig(Config):
    """Configuration of the Tillit store transport: the database holding the lineage tables."""

    database_url: str

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> TillitStoreConfig:
        """Read the configuration (``database_url``) from openlineage.yml or the environment."""
        if not params.get("database_url"):
            raise ValueError("the tillit_store transport needs a database_url")
        return cls(database_url=str(params["database_url"]))


class TillitStoreTransport(Transport):
    """Writes events into Tillit's lineage store, each event once."""

    kind = "tillit_store"
    config_class = TillitStoreConfig

    def __init__(self, config: TillitStoreConfig, store: LineageStore | None = None) -> None:
        self.config = config
        self._owns_engine = store is None
        if store is None:
            engine = make_engine(config.database_url)
            require_current_schema(engine)  # the lineage tables come from `tillit db upgrade`
            store = LineageStore(engine)
        self.store = store

    def emit(self, event: Event) -> bool:
        """Record the event; False if the store already had it."""
        return self.store.record(Serde.to_dict(event))

    def record_in(
        self,
        conn: Connection,
        events: Sequence[LineageEvent],
        now: datetime,
        ids: Sequence[str] | None = None,
    ) -> None:
        """Store events (as JSON-ready data) in the caller's transaction on the store's database:
        how the outbox shipper of the same database delivers a batch exactly once. ``ids``:
        the events' ids, where the caller holds them."""
        record_many(conn, events, now=now, ids=ids)

    def prepare(
        self, events: Sequence[LineageEvent], now: datetime, ids: Sequence[str] | None = None
    ) -> PreparedEvents:
        """A batch made into its rows ahead of the transaction that writes it (`write_in`)."""
        return prepare_events(self.store.engine.dialect, events, now=now, ids=ids)

    def write_in(self, conn: Connection, prepared: PreparedEvents) -> None:
        """Write a prepared batch in the caller's transaction; AlreadyStored if an event of it
        was stored already (roll back, then store it with ``record_in``)."""
        write_prepared(conn, prepared)

    def close(self, timeout: float = -1) -> bool:
        """Release the store's connections if this transport opened them."""
        if self._owns_engine:
            self.store.engine.dispose()
        return True


register_transport(TillitStoreTransport)


def run_event_from_dict(payload: LineageEvent) -> event_v2.RunEvent:
    """A client RunEvent carrying a stored event, facets kept as their JSON, for any transport."""
    run, job = payload["run"], payload["job"]
    event_type = payload.get("eventType")
    event = event_v2.RunEvent(
        eventTime=str(payload["eventTime"]),
        producer=str(payload.get("producer") or ""),
        eventType=event_v2.RunState(event_type) if event_type else None,
        run=event_v2.Run(runId=str(run["runId"]), facets=dict(run.get("facets") or {})),
        job=event_v2.Job(
            namespace=job["namespace"], name=job["name"], facets=dict(job.get("facets") or {})
        ),
        inputs=[
            event_v2.InputDataset(
                namespace=dataset["namespace"],
                name=dataset["name"],
                facets=dict(dataset.get("facets") or {}),
                inputFacets=dict(dataset.get("inputFacets") or {}),
            )
            for dataset in payload.get("inputs") or []
        ],
        outputs=[
            event_v2.OutputDataset(
                namespace=dataset["namespace"],
                name=dataset["name"],
                facets=dict(dataset.get("facets") or {}),
                outputFacets=dict(dataset.get("outputFacets") or {}),
            )
            for dataset in payload.get("outputs") or []
        ],
    )
    if schema_url := payload.get("schemaURL"):
        # The client would stamp its own spec version; keep the one the producer declared.
        event.schemaURL = str(schema_url)
    return event


# The choice follows openlineage-python: an openlineage.yml (config_path, OPENLINEAGE_CONFIG, the
# working directory, ~/.openlineage), OPENLINEAGE__* variables, then OPENLINEAGE_URL. It is read
# here rather than by OpenLineageClient because the client reads and even rewrites os.environ,
# and the broker's configuration is injected. Tillit differs in its default, its own store, and
# in leaving retries to the outbox shipper.


def build_transport(
    database_url: str,
    *,
    environ: Mapping[str, str] = os.environ,
    config_path: str | Path | None = None,
) -> Transport:
    """The configured transport; Tillit's lineage store when nothing is configured."""
    if environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return NoopTransport(NoopConfig())
    configured = _configured_transport(environ, config_path)
    if configured.get("type"):
        return get_default_factory().create(_with_tillit_defaults(configured, database_url))
    if url := environ.get("OPENLINEAGE_URL"):
        return _http_from_url(url, environ)
    return TillitStoreTransport(TillitStoreConfig(database_url=database_url))


def _configured_transport(
    environ: Mapping[str, str], config_path: str | Path | None
) -> dict[str, Any]:
    path = _config_file(environ, config_path)
    from_file = _read_config_file(path) if path is not None else {}
    # The file wins over OPENLINEAGE__ variables, as in openlineage-python.
    merged = deep_merge_dicts(_config_from_environment(environ), from_file)
    try:
        transport = OpenLineageConfig.from_dict(merged).transport
    except TypeError as error:
        raise ValueError(f"the OpenLineage configuration is malformed: {error}") from error
    return dict(transport or {})


def _config_file(environ: Mapping[str, str], config_path: str | Path | None) -> Path | None:
    # A file named explicitly must exist: falling back silently would hide a misconfiguration.
    explicit = config_path if config_path is not None else environ.get("OPENLINEAGE_CONFIG")
    if explicit:
        return Path(explicit)
    candidates = [Path.cwd() / "openlineage.yml"]
    if home := environ.get("HOME"):
        candidates.append(Path(home) / ".openlineage" / "openlineage.yml")
    return next((path for path in candidates if path.is_file()), None)


def _read_config_file(path: Path) -> dict[str, Any]:
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ValueError(f"{path} must hold a mapping, not {type(content).__name__}")
    return content


def _config_from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    variables = {**_url_alias(environ), **environ}
    config: dict[str, Any] = {}
    # Reverse order puts deeper keys first, so a top-level variable overrides them (as upstream).
    for name, raw in sorted(variables.items(), reverse=True):
        if not name.startswith(_ENV_PREFIX):
            continue
        path = [part.lower() for part in name.removeprefix(_ENV_PREFIX).split("__")]
        node = config
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[path[-1]] = _env_value(raw)
    return config


def _env_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _url_alias(environ: Mapping[str, str]) -> dict[str, str]:
    """OPENLINEAGE_URL as an HTTP member of a composite transport, as openlineage-python does."""
    url = environ.get("OPENLINEAGE_URL")
    if not url or any(name.startswith(_URL_TRANSPORT) for name in environ):
        return {}
    alias = {f"{_URL_TRANSPORT}__TYPE": "http", f"{_URL_TRANSPORT}__URL": url}
    if endpoint := environ.get("OPENLINEAGE_ENDPOINT"):
        alias[f"{_URL_TRANSPORT}__ENDPOINT"] = endpoint
    if api_key := environ.get("OPENLINEAGE_API_KEY"):
        alias[f"{_URL_TRANSPORT}__AUTH"] = json.dumps({"type": "api_key", "apiKey": api_key})
    return alias


def _with_tillit_defaults(config: Mapping[str, Any], database_url: str) -> dict[str, Any]:
    filled = dict(config)
    kind = filled.get("type")
    if kind == TillitStoreTransport.kind:
        filled.setdefault("database_url", database_url)
    elif kind == HttpTransport.kind:
        filled.setdefault("retry", dict(OUTBOX_HTTP_RETRY))
    elif kind == CompositeTransport.kind:
        # A composite that swallowed one member's failure would let the outbox mark the event
        # delivered and that member would never get it; failing the delivery retries it.
        filled.setdefault("continue_on_failure", False)
        members = filled.get("transports")
        if isinstance(members, dict):
            filled["transports"] = {
                name: _with_tillit_defaults(member, database_url) if member else member
                for name, member in members.items()
            }
        elif isinstance(members, list):
            filled["transports"] = [_with_tillit_defaults(m, database_url) for m in members]
    return filled


def _http_from_url(url: str, environ: Mapping[str, str]) -> HttpTransport:
    config: dict[str, Any] = {
        "url": url,
        "endpoint": environ.get("OPENLINEAGE_ENDPOINT", "api/v1/lineage"),
        "retry": dict(OUTBOX_HTTP_RETRY),
    }
    if api_key := environ.get("OPENLINEAGE_API_KEY"):
        config["auth"] = {"type": "api_key", "apiKey": api_key}
    return HttpTransport(HttpConfig.from_dict(config))
