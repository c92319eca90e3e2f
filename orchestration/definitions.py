"""The one Dagster Definitions object of Tillit: assets, checks, schedule, sensor, resources."""

from __future__ import annotations

import dagster as dg

from orchestration.automation import daily_refresh, legacy_drop_sensor, refresh_all
from orchestration.resources import default_resources
from orchestration.run import pipeline_definitions


def build_definitions() -> dg.Definitions:
    """Assemble the Definitions (a function so tests can build them with other resources)."""
    return dg.Definitions(
        assets=pipeline_definitions(),
        jobs=[refresh_all],
        schedules=[daily_refresh],
        sensors=[legacy_drop_sensor],
        resources=default_resources(),
    )


defs = build_definitions()
