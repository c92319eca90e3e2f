"""OpenLineage run events for pipeline loads and broker shares, derived from the contracts.

Everything an event says about a dataset (schema, owner, classification, column lineage) is read
off its contract, so the lineage graph cannot drift from what the pipeline checks and the broker
enforces. Builders return the client's ``RunEvent``; ``to_dict`` gives its JSON-ready form.
"""

from __future__ import annotations

from typing import Any

from openlineage.client.event_v2 import RunEvent
from openlineage.client.serde import Serde

from lineage.columns import column_lineage
from lineage.datasets import dataset_facets
from lineage.pipeline import (
    CheckResult,
    PipelineRun,
    pipeline_abort,
    pipeline_complete,
    pipeline_fail,
    pipeline_start,
)
from lineage.shares import share_complete, share_complete_dict, with_audit_position

__all__ = [
    "CheckResult",
    "PipelineRun",
    "column_lineage",
    "dataset_facets",
    "pipeline_abort",
    "pipeline_complete",
    "pipeline_fail",
    "pipeline_start",
    "share_complete",
    "share_complete_dict",
    "to_dict",
    "with_audit_position",
]


def to_dict(event: RunEvent) -> dict[str, Any]:
    """The event as JSON-ready data with nulls dropped, as the client's transports send it."""
    return Serde.to_dict(event)
