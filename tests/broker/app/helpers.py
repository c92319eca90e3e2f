"""Small helpers for broker API tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from broker.auth.principal import Principal
from broker.runtime import BrokerRuntime

ECE_REQUEST: dict[str, Any] = {
    "dataset": "persons",
    "purpose": "ece_placement",
    "legal_basis": "ece_act_540_2018",
}


def partner_principal(
    runtime: BrokerRuntime, partner_id: str, *, jti: str, subject: str = "analyst"
) -> Principal:
    """The principal a configured partner's verified token yields, for calling services
    directly (the token id `jti` is not spent)."""
    partner = runtime.config.partners[partner_id]
    return Principal(
        partner_id=partner.id,
        kind=partner.kind,
        roles=partner.roles,
        subject=subject,
        issuer=partner.issuer,
        jti=jti,
        client_id=partner.id,
        expires_at=datetime.now(UTC) + timedelta(minutes=1),
    )


def scalar(store_url: str, sql: str) -> Any:
    """The one value a query of the store returns."""
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql)).scalar_one()
    engine.dispose()
    return value


def audit_rows(store_url: str) -> list[Any]:
    """Every audit record, in chain order."""
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM audit_log ORDER BY seq")).all()
    engine.dispose()
    return list(rows)
