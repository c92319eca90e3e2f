"""Small helpers for broker API tests."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

ECE_REQUEST: dict[str, Any] = {
    "dataset": "persons",
    "purpose": "ece_placement",
    "legal_basis": "ece_act_540_2018",
}


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
