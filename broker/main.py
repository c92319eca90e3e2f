"""The broker's FastAPI application: ``create_app(settings)``; ``broker.main:app`` for uvicorn."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from broker.api.audit_groups import AuditGroups
from broker.api.limits import BodySizeLimitMiddleware, RateLimiter, ShareLane
from broker.api.problems import install_problem_handlers
from broker.api.routes import (
    agreements,
    catalog,
    indicators,
    lineage,
    mydata,
    operations,
    shares,
    subjects,
)
from broker.config.settings import BrokerSettings
from broker.mydata.export import SubjectExporter
from broker.runtime import BrokerRuntime, build_runtime
from broker.sharing.service import ShareService
from broker.store.disclosures import DisclosureIndexer
from broker.web import router as web_pages
from contracts.background import WalCheckpointer, has_write_ahead_log, runner_lock
from lineage.outbox import OutboxShipper
from lineage.transports import build_transport

logger = logging.getLogger(__name__)

DESCRIPTION = """
Tillit releases data held by Lahti and its partners only for a named purpose on a named legal
basis, to an authenticated partner, under a data-sharing agreement — minimised, pseudonymised
or aggregated as the agreement says — and writes a tamper-evident audit record before any
data leaves. Every request needs a fresh RFC 9068 access token (`typ: at+jwt`) signed with the
partner's key; each token authorises exactly one request. Errors are RFC 7807 problem
documents with a machine-readable `code`.
"""


def create_app(
    settings: BrokerSettings | None = None, *, runtime: BrokerRuntime | None = None
) -> FastAPI:
    """Build the broker; invalid configuration raises before the app exists (fail closed)."""
    settings = settings or BrokerSettings()
    runtime = runtime or build_runtime(settings)
    shipper = _lineage_shipper(settings, runtime)
    indexer = (
        DisclosureIndexer(
            runtime.engine,
            runtime.clock,
            poll_interval=settings.disclosure_index_seconds,
            runner_lock=runner_lock(runtime.engine, "disclosure-indexer"),
        )
        if settings.disclosure_indexing
        else None
    )
    checkpointer = _wal_checkpointer(settings, runtime)
    workers = [worker for worker in (shipper, indexer, checkpointer) if worker is not None]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            for worker in workers:
                worker.stop(timeout=10)

    app = FastAPI(
        lifespan=lifespan,
        title="Tillit sharing broker",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "shares", "description": "Purpose-bound data shares and their receipts"},
            {"name": "catalog", "description": "Datasets, their contracts and your permissions"},
            {"name": "agreements", "description": "Your data-sharing agreements"},
            {"name": "citizens", "description": "What was shared about me"},
            {"name": "operations", "description": "Audit verification and health"},
            {"name": "lineage", "description": "Where shared values came from"},
            {"name": "indicators", "description": "Goals and indicators for leaders"},
        ],
    )
    app.state.runtime = runtime
    app.state.lineage_shipper = shipper
    app.state.disclosure_indexer = indexer
    app.state.wal_checkpointer = checkpointer
    app.state.share_service = ShareService(runtime)
    app.state.subject_exporter = SubjectExporter(runtime, app.state.share_service.recorder)
    app.state.audit_groups = AuditGroups(app.state.share_service)
    app.state.share_lane = ShareLane(
        settings.share_lane_threads(), inline_rows=settings.share_lane_inline_rows()
    )
    app.state.rate_limiter = RateLimiter(
        rate_per_minute=settings.rate_limit_per_minute, clock=runtime.clock
    )
    install_problem_handlers(app)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_read_timeout=settings.body_read_timeout_seconds,
    )
    for module in (shares, catalog, agreements, subjects, operations, lineage, indicators, mydata):
        app.include_router(module.router)
    app.include_router(web_pages)
    return app


def _lineage_shipper(settings: BrokerSettings, runtime: BrokerRuntime) -> OutboxShipper | None:
    """The background shipper of this worker's queued lineage events (None when disabled)."""
    if not settings.lineage_shipping:
        return None
    transport = build_transport(settings.database_url)
    return OutboxShipper(
        runtime.engine,
        transport,
        runtime.clock,
        poll_interval=settings.lineage_poll_seconds,
        runner_lock=runner_lock(runtime.engine, "lineage-shipper"),
    )


def _wal_checkpointer(settings: BrokerSettings, runtime: BrokerRuntime) -> WalCheckpointer | None:
    """The background checkpointer of a SQLite file's write-ahead log (None elsewhere, or when
    `sqlite_checkpoint_seconds` is 0); one worker process at a time runs it."""
    engine = runtime.engine
    if not settings.sqlite_checkpoint_seconds or not has_write_ahead_log(engine):
        return None
    return WalCheckpointer(
        engine,
        poll_interval=settings.sqlite_checkpoint_seconds,
        runner_lock=runner_lock(engine, "wal-checkpointer"),
    )


def __getattr__(name: str) -> Any:
    # `uvicorn broker.main:app` builds the app on first access, so importing this module (in
    # tests, or for create_app) never loads configuration as a side effect.
    if name == "app":
        app = create_app()
        # What start-up built (configuration, contracts, table metadata, imported modules)
        # lives as long as the worker: frozen, the collector stops walking it again in every
        # full collection (about 80 ms each, several a minute under load).
        gc.freeze()
        # A share makes thousands of short-lived containers (rows, edges, parsed events) that
        # reference counting frees. Collecting the youngest generation after every 700 net
        # allocations (Python's default) ran 40-90 collections a second in each worker under
        # the throughput benchmark's load, 2-3% of the worker's CPU; after every 20,000, a
        # round of 1,500 shares saw one.
        gc.set_threshold(20_000, 20, 20)
        return app
    raise AttributeError(name)
