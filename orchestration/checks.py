"""Blocking asset checks generated from each contract: nothing bad flows downstream."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contracts.base import Contract
from contracts.datasets.indicators import LINKED_TABLES
from contracts.disclosure import table_problems
from contracts.store import RUN_ID, SOURCE_REF, dataset_loads, quarantine, store_table
from orchestration.resources import StoreResource

CheckBody = Callable[[Connection, Contract], dg.AssetCheckResult]


def _latest_load(conn: Connection, contract: Contract) -> Any:
    return conn.execute(
        sa.select(dataset_loads)
        .where(dataset_loads.c.dataset == contract.name)
        .order_by(dataset_loads.c.id.desc())
        .limit(1)
    ).first()


def _count(conn: Connection, query: sa.Select[Any]) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one())


def _no_load(contract: Contract) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, metadata={"problem": f"{contract.name} never loaded"})


def reconciliation(conn: Connection, contract: Contract) -> dg.AssetCheckResult:
    """Every source row of the last load is either in the store or in quarantine."""
    load = _latest_load(conn, contract)
    if load is None:
        return _no_load(contract)
    table = store_table(contract)
    stored = _count(conn, sa.select(table.c[RUN_ID]).where(table.c[RUN_ID] == load.run_id))
    held = _count(
        conn,
        sa.select(quarantine.c.id).where(
            quarantine.c.dataset == contract.name, quarantine.c.run_id == load.run_id
        ),
    )
    return dg.AssetCheckResult(
        passed=load.rows_in == stored + held and stored == load.rows_loaded,
        metadata={"rows_in": load.rows_in, "rows_in_store": stored, "rows_in_quarantine": held},
    )


def quarantine_rate(conn: Connection, contract: Contract) -> dg.AssetCheckResult:
    """The share of quarantined rows stays within the contract's limit."""
    load = _latest_load(conn, contract)
    if load is None:
        return _no_load(contract)
    rate = load.rows_quarantined / load.rows_in if load.rows_in else 0.0
    return dg.AssetCheckResult(
        passed=rate <= contract.quarantine_limit,
        metadata={"quarantine_rate": round(rate, 6), "limit": contract.quarantine_limit},
    )


def schema_conformance(conn: Connection, contract: Contract) -> dg.AssetCheckResult:
    """The stored table has exactly the contract's columns with its nullability."""
    columns = {c["name"]: c for c in sa.inspect(conn).get_columns(contract.name)}
    expected = {spec.name: spec for spec in contract.fields}
    problems = [f"missing column {name}" for name in expected if name not in columns]
    problems += [
        f"unexpected column {name}"
        for name in columns
        if name not in expected and name not in (SOURCE_REF, RUN_ID)
    ]
    problems += [
        f"column {name} allows NULL but the contract does not"
        for name, spec in expected.items()
        if name in columns
        and columns[name]["nullable"]
        and not spec.nullable
        and name not in contract.primary_key
    ]
    table = store_table(contract)
    for spec in contract.fields:
        if not spec.nullable and spec.name in columns:
            nulls = _count(conn, sa.select(table.c[spec.name]).where(table.c[spec.name].is_(None)))
            if nulls:
                problems.append(f"{nulls} NULLs in mandatory column {spec.name}")
    return dg.AssetCheckResult(
        passed=not problems, metadata={"problems": "; ".join(problems) or "none"}
    )


def referential_integrity(conn: Connection, contract: Contract) -> dg.AssetCheckResult:
    """Every reference to another dataset points at a row that exists there."""
    table = store_table(contract)
    orphans: dict[str, int] = {}
    for ref in contract.references:
        parent = sa.table(ref.dataset, sa.column(ref.key))
        child = table.c[ref.field]
        missing = sa.select(child).where(
            child.is_not(None), ~sa.exists().where(parent.c[ref.key] == child)
        )
        orphans[f"{ref.field} → {ref.dataset}.{ref.key}"] = _count(conn, missing)
    return dg.AssetCheckResult(passed=not any(orphans.values()), metadata=orphans)


def freshness(conn: Connection, contract: Contract) -> dg.AssetCheckResult:
    """The data is no older than the contract allows (source extract time, else load time)."""
    load = _latest_load(conn, contract)
    if load is None:
        return _no_load(contract)
    stamp = load.source_extracted_at or load.loaded_at
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    age = datetime.now(UTC) - stamp
    return dg.AssetCheckResult(
        passed=age <= contract.max_staleness,
        metadata={
            "age_hours": round(age.total_seconds() / 3600, 2),
            "max_hours": contract.max_staleness.total_seconds() / 3600,
        },
    )


def disclosure_problems(frame: pd.DataFrame, contract: Contract) -> list[str]:
    """Cells of a published aggregate that are small or can be recomputed from totals."""
    threshold = contract.min_cell_size
    counts = [spec.name for spec in contract.fields if spec.dtype == "integer"]
    problems = [
        f"{int(small.sum())} cells of {name} are below {threshold}"
        for name in counts
        if (small := frame[name].between(1, threshold - 1)).any()
    ]
    keys = list(contract.primary_key)
    if len(keys) == 1:
        grids = [frame[[name]] for name in counts]
    else:
        grids = [frame.pivot(index=keys[0], columns=keys[1], values=name) for name in counts]
    for grid in grids:
        lonely = (grid.isna().sum(axis=0) == 1).sum()
        if len(keys) > 1:
            lonely += (grid.isna().sum(axis=1) == 1).sum()
        if lonely:
            problems.append(f"{int(lonely)} lines have a single suppressed cell")
    return problems


def linked_disclosure_problems(frame: pd.DataFrame, contract: Contract) -> list[str]:
    """Per period of a linked table: small published cells, and suppressed cells that follow
    from the published ones through the table's equations."""
    layout, period = LINKED_TABLES[contract.name]
    problems = []
    for value, rows in frame.groupby(period, sort=True):
        problems += [
            f"{value}: {problem}"
            for problem in table_problems(rows, layout, contract.min_cell_size)
        ]
    return problems


def disclosure_control(conn: Connection, contract: Contract) -> dg.AssetCheckResult:
    """No published count is below the threshold, and no suppressed cell stands alone in a line
    whose total is published (it could be recomputed by subtraction)."""
    frame = pd.read_sql(sa.select(store_table(contract)), conn)
    if contract.name in LINKED_TABLES:
        problems = linked_disclosure_problems(frame, contract)
    else:
        problems = disclosure_problems(frame, contract)
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"problems": "; ".join(problems) or "none", "threshold": contract.min_cell_size},
    )


def checks_for(contract: Contract) -> list[tuple[str, CheckBody]]:
    """The checks a contract implies, by name."""
    names: list[tuple[str, CheckBody]] = [("schema_conformance", schema_conformance)]
    if contract.source_system != "tillit":
        names += [("reconciliation", reconciliation), ("quarantine_rate", quarantine_rate)]
    if contract.references:
        names.append(("referential_integrity", referential_integrity))
    if contract.aggregate:
        names.append(("disclosure_control", disclosure_control))
    names.append(("freshness", freshness))
    return names


def _asset_check(contract: Contract, name: str, body: CheckBody) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(contract.name),
        name=name,
        blocking=True,
        description=(body.__doc__ or "").strip(),
    )
    def _check(store: StoreResource) -> dg.AssetCheckResult:
        with store.engine().connect() as conn:
            return body(conn, contract)

    return _check


def build_checks(contract: Contract) -> list[dg.AssetChecksDefinition]:
    """Blocking Dagster asset checks for a contract's dataset."""
    return [_asset_check(contract, name, body) for name, body in checks_for(contract)]
