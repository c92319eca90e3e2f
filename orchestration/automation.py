"""When the pipeline runs: every morning, and whenever a new legacy drop arrives.

Each run refreshes every dataset and the indicators' last twelve monthly partitions (up to the
drop's month) in one run, so the indicators always match the data they were computed from.
"""

import json
from pathlib import Path

import dagster as dg

from orchestration.assets.indicators import refresh_tags
from orchestration.resources import LegacyDropResource

refresh_all = dg.define_asset_job(
    "refresh_sharing_store",
    selection=dg.AssetSelection.all(),
    description="Load every legacy extract through its contract and recompute derived datasets.",
)


@dg.schedule(
    name="daily_refresh",
    job=refresh_all,
    cron_schedule="0 5 * * *",
    execution_timezone="Europe/Helsinki",
    description="Refresh the sharing store every morning before offices open.",
)
def daily_refresh(
    context: dg.ScheduleEvaluationContext, legacy: LegacyDropResource
) -> dg.RunRequest:
    """One run of the whole store and the indicators' refreshed months."""
    return dg.RunRequest(tags=refresh_tags(legacy))


@dg.sensor(
    job=refresh_all,
    minimum_interval_seconds=60,
    description=(
        "Start a refresh when a new legacy drop (a new drop.json) appears in TILLIT_LEGACY_DIR."
    ),
)
def legacy_drop_sensor(
    context: dg.SensorEvaluationContext, legacy: LegacyDropResource
) -> dg.SensorResult | dg.SkipReason:
    """Request one run per new drop id; the drop id is the run key, so a drop runs once."""
    drop_file = Path(legacy.legacy_dir) / "drop.json"
    if not drop_file.exists():
        return dg.SkipReason(f"no drop at {drop_file}")
    drop_id = json.loads(drop_file.read_text(encoding="utf-8"))["drop_id"]
    if drop_id == context.cursor:
        return dg.SkipReason(f"drop {drop_id} already loaded")
    tags = {"tillit/drop_id": drop_id, **refresh_tags(legacy)}
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=drop_id, tags=tags)],
        cursor=drop_id,
    )
