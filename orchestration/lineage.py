"""OpenLineage for every asset materialization, as one resource the asset factories share.

START is queued when a load begins, COMPLETE inside the load's own transaction (so the data
and the record of it commit together) and FAIL when it raises. Events go through the store's
transactional outbox and are shipped best-effort after each asset: lineage never fails a run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import dagster as dg
from sqlalchemy.engine import Connection, Engine

from contracts.base import Contract
from lineage.events import (
    CheckResult,
    PipelineRun,
    pipeline_abort,
    pipeline_complete,
    pipeline_fail,
    pipeline_start,
    to_dict,
)
from lineage.outbox import OutboxShipper, enqueue
from lineage.transports import build_transport
from orchestration.legacy.drop import FILES
from orchestration.loading import LoadStats

logger = logging.getLogger(__name__)


def _check_results(contract: Contract, stats: LoadStats) -> list[CheckResult]:
    names = {check for spec in contract.fields for check in spec.checks}
    names |= {"not_nullable", "unique_key"} | ({"references"} if contract.references else set())
    names |= set(stats.quarantined_by_check)
    return [
        CheckResult(name, stats.quarantined_by_check.get(name, 0) == 0, None)
        for name in sorted(names)
    ]


class LineageTracker:
    """Queues the lineage of one asset materialization."""

    def __init__(self, run: PipelineRun) -> None:
        self.run = run

    def complete(self, conn: Connection, stats: LoadStats) -> None:
        """Queue COMPLETE inside the load's transaction (a ``before_commit`` callback)."""
        now = datetime.now(UTC)
        event = pipeline_complete(
            self.run,
            now,
            rows_loaded=stats.rows_loaded,
            rows_quarantined=stats.rows_quarantined,
            check_results=_check_results(self.run.contract, stats),
        )
        enqueue(conn, to_dict(event), now)


class LineageResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Emits OpenLineage events for asset materializations through the store's outbox."""

    enabled: bool = True

    @contextmanager
    def track(
        self, context: dg.AssetExecutionContext, contract: Contract, engine: Engine
    ) -> Iterator[LineageTracker | None]:
        """Track one materialization of ``contract``'s asset; yields None when disabled."""
        if not self.enabled:
            yield None
            return
        run = PipelineRun(
            dagster_run_id=context.run.run_id,
            dagster_job=context.run.job_name,
            asset_name=contract.name,
            contract=contract,
            legacy_files=FILES,
        )
        self._queue(engine, to_dict(pipeline_start(run, datetime.now(UTC))))
        try:
            yield LineageTracker(run)
        except (dg.DagsterExecutionInterruptedError, KeyboardInterrupt):
            # The run was cancelled by an operator: that is an ABORT, not a failure.
            self._queue(engine, to_dict(pipeline_abort(run, datetime.now(UTC))))
            raise
        except BaseException as error:
            self._queue(engine, to_dict(pipeline_fail(run, datetime.now(UTC), error=error)))
            raise
        finally:
            self._ship(engine)

    @staticmethod
    def _queue(engine: Engine, event: dict[str, object]) -> None:
        with engine.begin() as conn:
            enqueue(conn, event, datetime.now(UTC))

    @staticmethod
    def _ship(engine: Engine) -> None:
        # Best effort: whatever is not delivered now waits in the outbox for the next shipper.
        try:
            transport = build_transport(engine.url.render_as_string(hide_password=False))
            OutboxShipper(engine, transport, lambda: datetime.now(UTC).timestamp()).ship_once()
        except Exception:  # noqa: BLE001
            logger.warning("lineage events stay queued; shipping failed", exc_info=True)
