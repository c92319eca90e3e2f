"""Assets that move each legacy system's extract through its contract into the sharing store."""

import dagster as dg

from contracts.base import Contract
from contracts.errors import ContractError
from contracts.registry import get_contract
from orchestration.legacy import READERS
from orchestration.lineage import LineageResource
from orchestration.loading import load_source_dataset
from orchestration.metadata import definition_metadata, load_metadata
from orchestration.resources import LegacyDropResource, StoreResource

CHUNK_SIZE = 50_000
# Transient trouble (a file share hiccup, a locked database) is retried; a contract violation
# or schema drift raises a Failure that forbids retries, so it fails fast.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL)

SOURCE_SYSTEMS = {
    "population_register": "Population register extract (DVV), fixed-width Latin-1 text",
    "early_childhood_education": "Daycare vendor database (SQLite) of early childhood education",
    "school_enrolment": "School administration's enrolment export (XML)",
    "family_services": "Wellbeing services county family social services cases (CSV, cp1252)",
}
SOURCE_OWNERS = {
    "population_register": "team:population-data",
    "early_childhood_education": "team:early-childhood-education",
    "school_enrolment": "team:basic-education",
    "family_services": "team:family-social-services",
}
SOURCE_KINDS = {
    "population_register": {"file"},
    "early_childhood_education": {"sqlite"},
    "school_enrolment": {"xml"},
    "family_services": {"csv"},
}


def extract_key(system: str) -> dg.AssetKey:
    """Asset key of a legacy system's latest extract."""
    return dg.AssetKey(["legacy", system])


def legacy_extract_specs() -> list[dg.AssetSpec]:
    """External assets for the legacy extracts: delivered by the source systems, not by Tillit."""
    return [
        dg.AssetSpec(
            key=extract_key(system),
            description=description,
            group_name=system,
            owners=[SOURCE_OWNERS[system]],
            kinds=SOURCE_KINDS[system],
        )
        for system, description in SOURCE_SYSTEMS.items()
    ]


def source_dataset_asset(contract: Contract) -> dg.AssetsDefinition:
    """The asset that validates a legacy extract against ``contract`` and loads the store."""
    system = contract.source_system
    reader = READERS[system]
    deps = [extract_key(system), *(dg.AssetKey(ref.dataset) for ref in contract.references)]

    @dg.asset(
        name=contract.name,
        group_name=system,
        owners=[contract.owner],
        kinds={"pandera", "sqlalchemy"},
        description=contract.description,
        deps=deps,
        metadata=definition_metadata(contract),
        retry_policy=TRANSIENT_RETRY,
        tags={"tillit/classification": contract.classification.value},
    )
    def _load(
        context: dg.AssetExecutionContext,
        store: StoreResource,
        legacy: LegacyDropResource,
        lineage: LineageResource,
    ) -> dg.MaterializeResult[None]:
        drop = legacy.drop_info()
        engine = store.engine()
        try:
            with lineage.track(context, contract, engine) as tracker:
                stats = load_source_dataset(
                    engine,
                    contract,
                    reader(legacy.path, CHUNK_SIZE),
                    run_id=context.run.run_id,
                    drop_id=drop.drop_id,
                    extracted_at=drop.extracted_at,
                    before_commit=tracker.complete if tracker else None,
                )
        except ContractError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from error
        context.log.info(
            "%s: %d rows in, %d loaded, %d quarantined",
            contract.name,
            stats.rows_in,
            stats.rows_loaded,
            stats.rows_quarantined,
        )
        return dg.MaterializeResult(metadata=load_metadata(contract, stats))

    return _load


SOURCE_DATASETS = ("persons", "ece_placements", "school_enrolments", "family_service_cases")


def source_dataset_assets() -> list[dg.AssetsDefinition]:
    """One loading asset per contract fed by a legacy system."""
    return [source_dataset_asset(get_contract(name)) for name in SOURCE_DATASETS]
