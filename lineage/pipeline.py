"""Run events of pipeline loads: one asset materialisation, START to COMPLETE, FAIL or ABORT.

An asset run's id is derived from the Dagster run id and the asset name, and a ``parent`` facet
links it to the Dagster run, so every load of one Dagster run groups under that run.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    data_quality_assertions_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    ownership_job,
    parent_run,
    schema_dataset,
)

from contracts.base import Contract
from contracts.store import quarantine
from lineage.columns import column_lineage, input_fields
from lineage.datasets import data_source_facet, dataset_facets, event_time_text
from lineage.namespaces import (
    JOB_NAMESPACE,
    PRODUCER,
    STORE_NAMESPACE,
    asset_run_id,
    dagster_job_name,
    pipeline_job_name,
)

# An exception message can quote the rows that caused it; keep enough to diagnose, not a dump.
_MAX_ERROR_MESSAGE: Final = 1000


class CheckResult(NamedTuple):
    """The outcome of one asset check: its name, whether it passed, the column it tests."""

    name: str
    passed: bool
    column: str | None


@dataclass(frozen=True)
class PipelineRun:
    """One materialisation of a contract's asset inside a Dagster run."""

    dagster_run_id: str
    dagster_job: str
    asset_name: str
    contract: Contract
    # Source system → extract file or database, as the legacy drop names them.
    legacy_files: Mapping[str, str]

    @property
    def run_id(self) -> str:
        """The asset run's id, the same for the same Dagster run and asset."""
        return asset_run_id(self.dagster_run_id, self.asset_name)


def _inputs(run: PipelineRun) -> list[InputDataset]:
    datasets = []
    for (namespace, name), read in input_fields(run.contract, run.legacy_files).items():
        facets: dict[str, Any] = {}
        if namespace != STORE_NAMESPACE:
            # Only the legacy columns the contract reads; the extract's own layout is not ours.
            columns = [schema_dataset.SchemaDatasetFacetFields(name=field) for field in read]
            facets = {
                "schema": schema_dataset.SchemaDatasetFacet(fields=columns, producer=PRODUCER),
                "dataSource": data_source_facet(run.contract.source_system, namespace),
            }
        datasets.append(InputDataset(namespace=namespace, name=name, facets=facets))
    return datasets


def _row_count(rows: int) -> output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet:
    if rows < 0:
        raise ValueError(f"a row count cannot be negative: {rows}")
    return output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=rows, producer=PRODUCER
    )


def _outputs(
    run: PipelineRun, extra_facets: Mapping[str, Any], rows: tuple[int, int] | None
) -> list[OutputDataset]:
    facets = dataset_facets(run.contract)
    facets["columnLineage"] = column_lineage(run.contract, run.legacy_files)
    facets.update(extra_facets)
    table = OutputDataset(namespace=STORE_NAMESPACE, name=run.contract.name, facets=facets)
    # Rejected rows are written to the store's quarantine table, so it is an output too.
    rejects = OutputDataset(namespace=STORE_NAMESPACE, name=quarantine.name)
    if rows is not None:
        loaded, rejected = rows
        table.outputFacets = {"outputStatistics": _row_count(loaded)}
        rejects.outputFacets = {"outputStatistics": _row_count(rejected)}
    return [table, rejects]


def _job(run: PipelineRun) -> Job:
    contract = run.contract
    description = (
        f"Loads {contract.name} from {contract.source_system} into the sharing store, held to "
        f"contract {contract.name} {contract.version}."
    )
    facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="DAGSTER", jobType="ASSET", producer=PRODUCER
        ),
        "documentation": documentation_job.DocumentationJobFacet(
            description=description, contentType="text/plain", producer=PRODUCER
        ),
        "ownership": ownership_job.OwnershipJobFacet(
            owners=[ownership_job.Owner(name=contract.owner)], producer=PRODUCER
        ),
    }
    return Job(namespace=JOB_NAMESPACE, name=pipeline_job_name(run.asset_name), facets=facets)


def _run(run: PipelineRun, extra_facets: Mapping[str, Any]) -> Run:
    dagster_job = dagster_job_name(run.dagster_job)
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=run.dagster_run_id),
        job=parent_run.Job(namespace=JOB_NAMESPACE, name=dagster_job),
        root=parent_run.Root(
            run=parent_run.RootRun(runId=run.dagster_run_id),
            job=parent_run.RootJob(namespace=JOB_NAMESPACE, name=dagster_job),
        ),
        producer=PRODUCER,
    )
    facets: dict[str, Any] = {"parent": parent, **extra_facets}
    return Run(runId=run.run_id, facets=facets)


def _event(
    state: RunState,
    run: PipelineRun,
    event_time: datetime,
    *,
    run_facets: Mapping[str, Any] | None = None,
    output_facets: Mapping[str, Any] | None = None,
    rows: tuple[int, int] | None = None,
) -> RunEvent:
    return RunEvent(
        eventType=state,
        eventTime=event_time_text(event_time),
        run=_run(run, run_facets or {}),
        job=_job(run),
        inputs=_inputs(run),
        outputs=_outputs(run, output_facets or {}, rows),
        producer=PRODUCER,
    )


def pipeline_start(run: PipelineRun, event_time: datetime) -> RunEvent:
    """START of an asset load: its inputs, the store table it writes and that table's facets."""
    return _event(RunState.START, run, event_time)


def pipeline_complete(
    run: PipelineRun,
    event_time: datetime,
    *,
    rows_loaded: int,
    rows_quarantined: int,
    check_results: Sequence[tuple[str, bool, str | None]],
) -> RunEvent:
    """COMPLETE of an asset load, with rows loaded and quarantined and the asset check results."""
    assertions = [
        data_quality_assertions_dataset.Assertion(
            assertion=name, success=passed, column=column, name=name, severity="error"
        )
        for name, passed, column in check_results
    ]
    quality = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=assertions, producer=PRODUCER
    )
    # On the store table, the dataset the checks validate, as the facet's documentation advises.
    return _event(
        RunState.COMPLETE,
        run,
        event_time,
        output_facets={"dataQualityAssertions": quality},
        rows=(rows_loaded, rows_quarantined),
    )


def pipeline_fail(run: PipelineRun, event_time: datetime, *, error: BaseException) -> RunEvent:
    """FAIL of an asset load, carrying the error and the frames it was raised through."""
    message = f"{type(error).__qualname__}: {error}"[:_MAX_ERROR_MESSAGE]
    # Frames only: a formatted exception would repeat a message that may quote personal data.
    stack = "".join(traceback.format_tb(error.__traceback__)) or None
    facet = error_message_run.ErrorMessageRunFacet(
        message=message, programmingLanguage="PYTHON", stackTrace=stack, producer=PRODUCER
    )
    return _event(RunState.FAIL, run, event_time, run_facets={"errorMessage": facet})


def pipeline_abort(run: PipelineRun, event_time: datetime) -> RunEvent:
    """ABORT of an asset load whose Dagster run was cancelled."""
    return _event(RunState.ABORT, run, event_time)
