"""The one Dagster Definitions object of Tillit: assets, checks, schedule, sensor, resources."""

from __future__ import annotations

import dagster as dg

from contracts.registry import all_contracts
from orchestration.assets.curated import computed_assets
from orchestration.assets.sources import legacy_extract_specs, source_dataset_assets
from orchestration.automation import daily_refresh, legacy_drop_sensor, refresh_all
from orchestration.checks import build_checks
from orchestration.resources import default_resources


def build_definitions() -> dg.Definitions:
    """Assemble the Definitions (a function so tests can build them with other resources)."""
    return dg.Definitions(
        assets=[*legacy_extract_specs(), *source_dataset_assets(), *computed_assets()],
        asset_checks=[check for contract in all_contracts() for check in build_checks(contract)],
        jobs=[refresh_all],
        schedules=[daily_refresh],
        sensors=[legacy_drop_sensor],
        resources=default_resources(),
    )


defs = build_definitions()
