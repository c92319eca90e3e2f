"""Indicator assets: monthly partitions, computed from curated data, suppressed, with lineage.

Partitioned by month only; the district and the household segment are columns. Secondary
suppression must see every district and segment of a month together (the city total is
published, so a district cell can only be protected by another district of the same month), so
a month is the smallest unit that can be computed and checked on its own. Dagster cannot run a
range of multi-dimensional partitions in one run, while a monthly range with
``BackfillPolicy.single_run()`` materialises a year in one run and one transaction.
"""

from datetime import date

import dagster as dg

from contracts.datasets.indicators import PERIOD_COLUMN
from contracts.registry import get_contract
from orchestration import curation
from orchestration import indicators as compute
from orchestration.lineage import LineageResource
from orchestration.loading import replace_periods
from orchestration.metadata import definition_metadata, load_metadata
from orchestration.resources import LegacyDropResource, StoreResource

MONTHS = dg.MonthlyPartitionsDefinition(
    start_date="2024-01-01", end_offset=1, timezone="Europe/Helsinki"
)
# How many months, up to the drop's own, a refresh recomputes.
REFRESHED_MONTHS = 12
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def refreshed_months(as_of: date, months: int = REFRESHED_MONTHS) -> list[str]:
    """The partition keys a refresh with a drop extracted on ``as_of`` recomputes."""
    return [
        curation.months_before(as_of, back).strftime("%Y-%m-01")
        for back in range(months - 1, -1, -1)
    ]


def range_tags(as_of: date) -> dict[str, str]:
    """Run tags that materialise the refreshed months of every indicator in the same run."""
    keys = refreshed_months(as_of)
    return {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}


def refresh_tags(legacy: LegacyDropResource) -> dict[str, str]:
    """Range tags for a refresh of the current drop; today's months when there is no drop yet
    (the run then fails where the drop is read, naming the missing file)."""
    try:
        as_of = legacy.drop_info().as_of
    except (OSError, ValueError, KeyError):
        as_of = date.today()
    return range_tags(as_of)


def daycare_within_four_months_asset() -> dg.AssetsDefinition:
    """The asset behind the daycare-within-four-months indicators."""
    contract = get_contract("daycare_within_four_months")

    @dg.asset(
        name=contract.name,
        group_name="indicators",
        owners=[contract.owner],
        kinds={"sql", "sqlalchemy", "table"},
        description=contract.description,
        deps=[dg.AssetKey(name) for name in ("persons", "households", "ece_placements")],
        metadata=definition_metadata(contract),
        tags={"tillit/classification": contract.classification.value},
        partitions_def=MONTHS,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def _compute(
        context: dg.AssetExecutionContext,
        store: StoreResource,
        legacy: LegacyDropResource,
        lineage: LineageResource,
    ) -> dg.MaterializeResult[None]:
        engine = store.engine()
        as_of = legacy.drop_info().as_of
        months = [key[:7] for key in context.partition_keys]
        with lineage.track(context, contract, engine) as tracker:
            children = compute.children_moving_in(engine, months)
            table = compute.daycare_within_four_months(
                children, months, contract.min_cell_size, as_of
            )
            stats = replace_periods(
                engine,
                contract,
                table,
                period_column=PERIOD_COLUMN,
                periods=months,
                run_id=context.run.run_id,
                source_ref=f"computed {as_of} for {months[0]}..{months[-1]}",
                before_commit=tracker.complete if tracker else None,
            )
        return dg.MaterializeResult(metadata=load_metadata(contract, stats))

    return _compute


def indicator_assets() -> list[dg.AssetsDefinition]:
    """Every indicator asset."""
    return [daycare_within_four_months_asset()]
