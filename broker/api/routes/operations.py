"""Operators' endpoints and health probes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from broker.api.examples import AUDIT_REPORT, READY, example_response
from broker.api.problems import problem_responses
from broker.audit import audit_transaction, chain_head, verify_chain
from broker.deps import Operator, Runtime

router = APIRouter(tags=["operations"])


@router.get(
    "/v1/audit/verify",
    summary="Verify the audit chain",
    responses={**example_response(AUDIT_REPORT), **problem_responses(401, 403)},
)
def verify_audit(principal: Operator, runtime: Runtime) -> dict[str, Any]:
    """Chain length, head hash and the first broken record, if any (operator role only)."""
    public_key = runtime.secrets.checkpoint_key.public_key()
    with runtime.engine.connect() as conn:
        report = verify_chain(conn, public_key)
    return {
        "length": report.length,
        "head_hash": report.head_hash,
        "first_broken_seq": report.first_broken_seq,
        "problem": report.problem,
        "checkpoints_checked": report.checkpoints_checked,
        "ok": report.first_broken_seq is None and report.problem is None,
    }


@router.get("/healthz", summary="Liveness", responses=example_response({"status": "ok"}))
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness",
    responses={**example_response(READY), 503: {"description": "Not ready"}},
)
def readyz(runtime: Runtime) -> JSONResponse:
    """Ready when the database answers, the audit chain lock can be taken (the log is writable)
    and configuration is loaded."""
    checks = {
        "configuration": bool(runtime.config.partners),
        "database": False,
        "audit_writable": False,
    }
    try:
        with runtime.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = True
        with audit_transaction(runtime.engine) as conn:
            chain_head(conn)
            # Taking the chain lock proves an append could happen now; nothing is written.
            conn.rollback()
        checks["audit_writable"] = True
    except sa.exc.SQLAlchemyError:
        pass
    ready = all(checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
