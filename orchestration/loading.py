"""Write validated datasets into the sharing store: one transaction per dataset, never partial.

Each write replaces the dataset and its quarantine records in a single transaction, so a rerun
or a run that dies half-way leaves either the previous complete dataset or the new one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from contracts.base import Contract
from contracts.store import (
    RUN_ID,
    SOURCE_REF,
    dataset_loads,
    empty_store_table,
    quarantine,
    store_table,
)
from contracts.validation import ContractValidator, validate_computed

BeforeCommit = Callable[[Connection, "LoadStats"], None]


@dataclass
class LoadStats:
    """What one dataset write did: the figures the reconciliation check holds it to."""

    dataset: str
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    quarantined_by_check: Counter[str] = field(default_factory=Counter)

    @property
    def quarantine_rate(self) -> float:
        """Share of source rows that went to quarantine."""
        return self.rows_quarantined / self.rows_in if self.rows_in else 0.0


def _column_values(series: pd.Series) -> list[Any]:
    missing = series.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.dt.date.to_numpy(dtype=object, copy=True)
    else:
        values = series.to_numpy(dtype=object, copy=True)
    if missing.any():
        values[missing] = None
    return list(values.tolist())


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dictionaries of plain Python values (dates, ints, None) for executemany."""
    names = list(frame.columns)
    columns = [_column_values(frame[name]) for name in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _sqlite_values(
    series: pd.Series, type_: sa.types.TypeEngine[Any], dialect: sa.Dialect
) -> list[Any]:
    """A column's values as SQLite stores them: SQLAlchemy's bind processor applied to each,
    except dates, which become SQLAlchemy's ISO text (YYYY-MM-DD) in one array operation."""
    if isinstance(type_, sa.Date) and series.dtype.kind == "M":
        days = series.to_numpy().astype("datetime64[D]")
        text = np.datetime_as_string(days, unit="D").astype(object)
        text[np.isnat(days)] = None
        return list(text.tolist())
    values = _column_values(series)
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    return values if process is None else [process(value) for value in values]


def insert_frame(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Append a frame's rows to ``table`` in the caller's transaction.

    On SQLite the rows go to the driver's executemany as tuples, each column already passed
    through its SQL type's bind processor (dates to ISO text, as SQLAlchemy stores them);
    building a dictionary per row and binding it value by value cost more than SQLite's own
    inserts. Other databases get SQLAlchemy's executemany, which batches rows itself."""
    if not len(frame):
        return
    if conn.dialect.name != "sqlite":
        conn.execute(table.insert(), frame_records(frame))
        return
    dialect = conn.dialect
    statement = table.insert().compile(dialect=dialect, column_keys=list(frame.columns))
    columns = [
        _sqlite_values(frame[name], table.c[name].type, dialect)
        for name in statement.positiontup or []
    ]
    conn.exec_driver_sql(statement.string, list(zip(*columns, strict=True)))


def known_keys(engine: Engine, contract: Contract) -> dict[str, set[str]]:
    """Keys of the parent datasets a contract references, read once before loading.

    Read through the driver's cursor: a million keys cost several times more as
    SQLAlchemy rows than as the driver's own tuples."""
    keys: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for ref in contract.references:
            column = sa.table(ref.dataset, sa.column(ref.key)).c[ref.key]
            cursor = conn.connection.cursor()
            try:
                cursor.execute(str(sa.select(column).compile(dialect=conn.dialect)))
                keys[ref.dataset] = {key for (key,) in cursor.fetchall()}
            finally:
                cursor.close()
    return keys


def _record_load(
    conn: Connection,
    stats: LoadStats,
    contract: Contract,
    run_id: str,
    drop_id: str | None,
    extracted_at: datetime | None,
) -> None:
    conn.execute(
        dataset_loads.insert(),
        {
            "dataset": contract.name,
            "run_id": run_id,
            "contract_version": contract.version,
            "rows_in": stats.rows_in,
            "rows_loaded": stats.rows_loaded,
            "rows_quarantined": stats.rows_quarantined,
            "source_drop_id": drop_id,
            "source_extracted_at": extracted_at,
            "loaded_at": datetime.now(UTC),
        },
    )


def _quarantine_rows(
    records: list[dict[str, Any]], contract: Contract, run_id: str, now: datetime
) -> list[dict[str, Any]]:
    common = {
        "dataset": contract.name,
        "source_system": contract.source_system,
        "contract_version": contract.version,
        "run_id": run_id,
        "quarantined_at": now,
    }
    return [{**record, **common} for record in records]


def load_source_dataset(
    engine: Engine,
    contract: Contract,
    chunks: Iterable[pd.DataFrame],
    *,
    run_id: str,
    drop_id: str | None = None,
    extracted_at: datetime | None = None,
    before_commit: BeforeCommit | None = None,
) -> LoadStats:
    """Validate chunks of legacy rows and replace the dataset and its quarantine atomically.

    ``before_commit`` runs inside the transaction (the lineage event is queued there), so the
    dataset and the record of its load commit together."""
    validator = ContractValidator(contract, known_keys(engine, contract))
    stats = LoadStats(contract.name)
    with engine.begin() as conn:
        table = empty_store_table(conn, contract)
        conn.execute(quarantine.delete().where(quarantine.c.dataset == contract.name))
        for chunk in chunks:
            result = validator.validate(chunk)
            stats.rows_in += len(chunk)
            if len(result.valid):
                insert_frame(conn, table, result.valid.assign(**{RUN_ID: run_id}))
                stats.rows_loaded += len(result.valid)
            if result.rejected:
                now = datetime.now(UTC)
                conn.execute(
                    quarantine.insert(), _quarantine_rows(result.rejected, contract, run_id, now)
                )
                stats.rows_quarantined += len(result.rejected)
                stats.quarantined_by_check.update(r["check_name"] for r in result.rejected)
        _record_load(conn, stats, contract, run_id, drop_id, extracted_at)
        if before_commit is not None:
            before_commit(conn, stats)
    return stats


def replace_computed_dataset(
    engine: Engine,
    contract: Contract,
    frames: pd.DataFrame | Iterable[pd.DataFrame],
    *,
    run_id: str,
    source_ref: str,
    before_commit: BeforeCommit | None = None,
) -> LoadStats:
    """Replace a dataset Tillit computes from curated data, validating every chunk, atomically.

    A computed row that breaks its contract is a defect in Tillit, not in a source, so it fails
    the write instead of going to quarantine.
    """
    stats = LoadStats(contract.name)
    chunks = [frames] if isinstance(frames, pd.DataFrame) else frames
    with engine.begin() as conn:
        table = empty_store_table(conn, contract)
        for chunk in chunks:
            rows = validate_computed(contract, chunk).assign(
                **{SOURCE_REF: source_ref, RUN_ID: run_id}
            )
            insert_frame(conn, table, rows)
            stats.rows_in += len(rows)
            stats.rows_loaded += len(rows)
        _record_load(conn, stats, contract, run_id, None, None)
        if before_commit is not None:
            before_commit(conn, stats)
    return stats


def rows_frame(rows: Sequence[sa.Row[Any]], names: list[str]) -> pd.DataFrame:
    """Result rows as a DataFrame (built from plain tuples: from Row objects pandas takes
    several times longer)."""
    return pd.DataFrame(list(map(tuple, rows)), columns=names)


def iter_table(
    engine: Engine, query: sa.Select[Any], chunk_size: int = 50_000
) -> Iterator[pd.DataFrame]:
    """Stream a query's rows as DataFrames of at most ``chunk_size`` rows."""
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(query)
        names = list(result.keys())
        for partition in result.partitions(chunk_size):
            yield rows_frame(partition, names)


def replace_periods(
    engine: Engine,
    contract: Contract,
    frame: pd.DataFrame,
    *,
    period_column: str,
    periods: Iterable[str],
    run_id: str,
    source_ref: str,
    before_commit: BeforeCommit | None = None,
) -> LoadStats:
    """Replace the rows of some periods (a partitioned asset's partitions) in one transaction,
    validating them first; the other periods' rows stay as they were."""
    table = store_table(contract)
    rows = validate_computed(contract, frame).assign(**{SOURCE_REF: source_ref, RUN_ID: run_id})
    stats = LoadStats(contract.name, rows_in=len(rows), rows_loaded=len(rows))
    with engine.begin() as conn:
        conn.execute(table.delete().where(table.c[period_column].in_(list(periods))))
        insert_frame(conn, table, rows)
        _record_load(conn, stats, contract, run_id, None, None)
        if before_commit is not None:
            before_commit(conn, stats)
    return stats
