"""Operators' endpoints and health probes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from broker.api.examples import AUDIT_REPORT, READY, example_response
from broker.api.problems import problem_responses
from broker.audit import audit_transaction, chain_head, verify_chain
from broker.auth.replay_db import token_replay
from broker.deps import Operator, Runtime

router = APIRouter(tags=["operations"])

# The readiness probe's own spent-token row: an issuer no partner can have, long expired.
_PROBE_ROW = {"issuer": "tillit:readiness-probe", "jti": "write-probe"}


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
            _commit_probe_write(conn)
        checks["audit_writable"] = True
    except sa.exc.SQLAlchemyError:
        pass
    ready = all(checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


def _commit_probe_write(conn: sa.Connection) -> None:
    """Rewrite the probe row, committed with the chain lock held.

    Only a committed write proves an append could happen now: a rolled-back one never reaches
    the disk, so a read-only or full SQLite file would still look writable.
    """
    probe = sa.and_(*(token_replay.c[name] == value for name, value in _PROBE_ROW.items()))
    conn.execute(token_replay.delete().where(probe))
    conn.execute(token_replay.insert().values(**_PROBE_ROW, expires_at=0.0))
