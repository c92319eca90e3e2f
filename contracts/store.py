"""The sharing store's schema, derived from the contracts, plus quarantine and load bookkeeping."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from contracts.base import Contract, FieldSpec

metadata = sa.MetaData()

SOURCE_REF = "_source_ref"
RUN_ID = "_run_id"
_SQL_TYPES: dict[str, type[sa.types.TypeEngine[Any]]] = {
    "string": sa.Text,
    "date": sa.Date,
    "integer": sa.BigInteger,
    "number": sa.Float,
    "boolean": sa.Boolean,
}

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("source_system", sa.Text, nullable=False),
    sa.Column("source_ref", sa.Text, nullable=False),
    sa.Column("check_name", sa.Text, nullable=False),
    sa.Column("column_name", sa.Text),
    sa.Column("offending_value", sa.Text),
    sa.Column("failures", sa.JSON, nullable=False),
    sa.Column("raw_record", sa.JSON, nullable=False),
    sa.Column("contract_version", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_quarantine_dataset_check", "dataset", "check_name"),
    comment="Source rows that broke their contract, with the reason; never silently dropped.",
)

dataset_loads = sa.Table(
    "dataset_loads",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("contract_version", sa.Text, nullable=False),
    sa.Column("rows_in", sa.BigInteger, nullable=False),
    sa.Column("rows_loaded", sa.BigInteger, nullable=False),
    sa.Column("rows_quarantined", sa.BigInteger, nullable=False),
    sa.Column("source_drop_id", sa.Text),
    sa.Column("source_extracted_at", sa.DateTime(timezone=True)),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_dataset_loads_dataset_loaded_at", "dataset", "loaded_at"),
    comment="One row per dataset write: the reconciliation figures and source freshness.",
)


def _column(spec: FieldSpec, primary_key: Iterable[str]) -> sa.Column[Any]:
    return sa.Column(
        spec.name,
        _SQL_TYPES[spec.dtype](),
        primary_key=spec.name in primary_key,
        nullable=spec.nullable,
        comment=f"{spec.description} [{spec.classification.value}]",
    )


def store_table(contract: Contract) -> sa.Table:
    """The sharing-store table of a contract (created once per process, then reused)."""
    if contract.name in metadata.tables:
        return metadata.tables[contract.name]
    columns = [_column(spec, contract.primary_key) for spec in contract.fields]
    lineage = [sa.Column(SOURCE_REF, sa.Text), sa.Column(RUN_ID, sa.Text)]
    indexes = [
        sa.Index(f"ix_{contract.name}_{ref.field}", ref.field) for ref in contract.references
    ]
    return sa.Table(
        contract.name, metadata, *columns, *lineage, *indexes, comment=contract.description
    )


def all_store_tables() -> list[sa.Table]:
    """Store tables of every registered contract."""
    from contracts.registry import all_contracts

    return [store_table(contract) for contract in all_contracts()]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine: WAL and a busy timeout on SQLite; pre-ping and a connect timeout on servers."""
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A server that accepts connections but never answers must fail requests within seconds
    # rather than hold them for the driver's default (over two minutes); a URL may override.
    parsed = sa.engine.make_url(url)
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 5}
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def ensure_schema(engine: Engine) -> None:
    """Create any missing store tables (idempotent)."""
    all_store_tables()
    metadata.create_all(engine)
