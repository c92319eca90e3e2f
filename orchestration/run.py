"""Run the whole pipeline in-process (the CLI, the demo and the tests use this)."""

from __future__ import annotations

import dagster as dg

from contracts.registry import all_contracts
from orchestration.assets.curated import computed_assets
from orchestration.assets.indicators import indicator_assets, refresh_tags
from orchestration.assets.sources import legacy_extract_specs, source_dataset_assets
from orchestration.checks import build_checks
from orchestration.lineage import LineageResource
from orchestration.resources import LegacyDropResource, StoreResource


def pipeline_definitions() -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """Every asset and asset check of the pipeline."""
    checks = [check for contract in all_contracts() for check in build_checks(contract)]
    return [
        *legacy_extract_specs(),
        *source_dataset_assets(),
        *computed_assets(),
        *indicator_assets(),
        *checks,
    ]


def run_pipeline(
    database_url: str,
    legacy_dir: str,
    *,
    instance: dg.DagsterInstance | None = None,
    selection: str | list[str] | None = None,
    raise_on_error: bool = False,
    log_level: str = "DEBUG",
    lineage: bool = True,
) -> dg.ExecuteInProcessResult:
    """Materialize the pipeline (or a selection of it) against a store and a legacy drop; the
    indicators' monthly partitions are the twelve months up to the drop's, in the same run."""
    legacy = LegacyDropResource(legacy_dir=legacy_dir)
    return dg.materialize(
        pipeline_definitions(),
        resources={
            "store": StoreResource(database_url=database_url),
            "legacy": legacy,
            "lineage": LineageResource(enabled=lineage),
        },
        instance=instance,
        selection=selection,
        raise_on_error=raise_on_error,
        tags=refresh_tags(legacy),
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
