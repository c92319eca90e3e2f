"""Stable OpenLineage namespaces, names and run ids for everything Tillit reads, writes and runs.

Consumers join events on these strings, so they never change for an existing dataset or job:
legacy extracts live under ``legacy://<source-system>`` named by file (or table, for a database),
sharing-store tables under ``tillit://store`` named by dataset, and partner deliveries under
``tillit://partner/<partner id>`` named by dataset.
"""

from __future__ import annotations

import uuid
from typing import Final

from openlineage.client.uuid import generate_new_uuid

PRODUCER: Final = "https://tillit.fi/lineage/producer/1"
JOB_NAMESPACE: Final = "tillit"
STORE_NAMESPACE: Final = "tillit://store"
PARTNER_NAMESPACE_PREFIX: Final = "tillit://partner/"
LEGACY_SCHEME: Final = "legacy://"
# Fixed for good: changing it would give every pipeline run a new id and split its history.
_RUN_ID_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://tillit.fi/lineage/runs")


def _require_segment(kind: str, value: str) -> str:
    if not value or "/" in value or value != value.strip():
        raise ValueError(f"{kind} must be a non-empty name without '/' or edge spaces: {value!r}")
    return value


def legacy_namespace(source_system: str) -> str:
    """The namespace of a legacy source system, e.g. ``legacy://population-register``."""
    return LEGACY_SCHEME + _require_segment("source system", source_system).replace("_", "-")


def partner_namespace(partner_id: str) -> str:
    """The namespace of the datasets delivered to one partner."""
    return PARTNER_NAMESPACE_PREFIX + _require_segment("partner id", partner_id)


def pipeline_job_name(asset_name: str) -> str:
    """The job that materialises one Dagster asset, ``pipeline.<asset>``."""
    return f"pipeline.{_require_segment('asset name', asset_name)}"


def share_job_name(dataset: str) -> str:
    """The job that releases one dataset to partners, ``share.<dataset>``."""
    return f"share.{_require_segment('dataset', dataset)}"


def dagster_job_name(job_name: str) -> str:
    """The parent job of asset runs: the Dagster job that launched them, ``dagster.<job>``."""
    return f"dagster.{_require_segment('Dagster job name', job_name)}"


def asset_run_id(dagster_run_id: str, asset_name: str) -> str:
    """The run id of one asset materialisation: the same for the same Dagster run and asset."""
    parent = str(uuid.UUID(dagster_run_id))
    return str(uuid.uuid5(_RUN_ID_NAMESPACE, f"{parent}/{_require_segment('asset', asset_name)}"))


def share_run_id() -> str:
    """A new share's id, which is also its lineage run id: time-ordered (UUIDv7, as OpenLineage
    recommends for run ids, with 74 random bits), so the rows keyed by it (its receipt, audit
    record and lineage edges) are appended at the ends of their indexes instead of landing on a
    random leaf page each."""
    return str(generate_new_uuid())
