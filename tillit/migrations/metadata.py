"""The metadata the migrations describe: every table Tillit owns, not the contracts' tables."""

from __future__ import annotations

import importlib
from typing import Any, Final

import sqlalchemy as sa

from contracts.schema_revision import VERSION_TABLE

OWNING_MODULES: Final = (
    "contracts.store",
    "lineage.store",
    "lineage.outbox",
    "broker.audit.tables",
    "broker.store.tables",
    "broker.store.consents",
    "broker.auth.replay_db",
)
"""The modules that define Tillit's own tables; each registers them on the store's metadata."""


def owned_metadata() -> sa.MetaData:
    """The store's metadata with every module that defines one of Tillit's own tables loaded."""
    for module in OWNING_MODULES:
        importlib.import_module(module)
    from contracts.store import metadata

    return metadata


def contract_table_names() -> frozenset[str]:
    """Names of the sharing-store tables derived from contracts (built by the pipeline)."""
    from contracts.registry import all_contracts

    return frozenset(contract.name for contract in all_contracts())


def owned_table_names() -> frozenset[str]:
    """Names of the tables the migrations create and change."""
    return frozenset(owned_metadata().tables) - contract_table_names()


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter: compare and migrate Tillit's own tables, never the contracts' tables."""
    if type_ == "table":
        return name != VERSION_TABLE and name not in contract_table_names()
    table = getattr(obj, "table", None)
    return table is None or table.name not in contract_table_names()
