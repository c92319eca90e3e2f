"""Assets Tillit computes from curated data: households, the cross-sector view, indicators."""

from collections.abc import Callable, Iterable
from datetime import date

import dagster as dg
import pandas as pd
from sqlalchemy.engine import Engine

from contracts.base import Contract
from contracts.registry import get_contract
from orchestration import curation
from orchestration.lineage import LineageResource
from orchestration.loading import replace_computed_dataset
from orchestration.metadata import definition_metadata, load_metadata
from orchestration.resources import LegacyDropResource, StoreResource

Compute = Callable[[Engine, date, Contract], pd.DataFrame | Iterable[pd.DataFrame]]

COMPUTED: dict[str, tuple[str, tuple[str, ...], Compute]] = {
    "households": (
        "population_register",
        ("persons",),
        lambda engine, as_of, _c: curation.households(engine, as_of),
    ),
    "families_moving_in": (
        "cross_sector",
        ("households", "persons", "ece_placements", "school_enrolments", "family_service_cases"),
        lambda engine, as_of, _c: curation.families_moving_in(engine, as_of),
    ),
    "daycare_demand_by_district": (
        "indicators",
        ("persons", "ece_placements"),
        lambda engine, as_of, c: curation.daycare_demand_by_district(
            engine, as_of, c.min_cell_size
        ),
    ),
    "new_resident_families_by_month": (
        "indicators",
        ("households",),
        lambda engine, as_of, c: curation.new_resident_families_by_month(
            engine, as_of, c.min_cell_size
        ),
    ),
}


def computed_asset(name: str) -> dg.AssetsDefinition:
    """The asset that computes dataset ``name`` from its upstream datasets."""
    group, upstream, compute = COMPUTED[name]
    contract = get_contract(name)
    kinds = {"sql", "sqlalchemy"} if not contract.aggregate else {"sql", "sqlalchemy", "table"}

    @dg.asset(
        name=name,
        group_name=group,
        owners=[contract.owner],
        kinds=kinds,
        description=contract.description,
        deps=[dg.AssetKey(dataset) for dataset in upstream],
        metadata=definition_metadata(contract),
        tags={"tillit/classification": contract.classification.value},
    )
    def _compute(
        context: dg.AssetExecutionContext,
        store: StoreResource,
        legacy: LegacyDropResource,
        lineage: LineageResource,
    ) -> dg.MaterializeResult[None]:
        engine = store.engine()
        as_of = legacy.drop_info().as_of
        with lineage.track(context, contract, engine) as tracker:
            stats = replace_computed_dataset(
                engine,
                contract,
                compute(engine, as_of, contract),
                run_id=context.run.run_id,
                source_ref=f"computed {as_of}",
                before_commit=tracker.complete if tracker else None,
            )
        return dg.MaterializeResult(metadata=load_metadata(contract, stats))

    return _compute


def computed_assets() -> list[dg.AssetsDefinition]:
    """Every computed dataset's asset."""
    return [computed_asset(name) for name in COMPUTED]
