"""The run event of a permitted share: a store table released to a partner under an agreement.

The run id is the share id, so the event, the audit record and the partner's delivery all carry
the same identifier. Denials never become lineage: they are in the audit log only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset as cl,
)
from openlineage.client.facet_v2 import (
    documentation_job,
    job_type_job,
    output_statistics_output_dataset,
)

from contracts.base import Contract
from lineage.datasets import data_source_facet, event_time_text, schema_facet
from lineage.facets import (
    SHARE_FACET,
    TillitShareRunFacet,
    applied_transforms,
    withheld_fields,
)
from lineage.namespaces import (
    JOB_NAMESPACE,
    PRODUCER,
    STORE_NAMESPACE,
    partner_namespace,
    share_job_name,
)


def _released_lineage(
    contract: Contract, fields_released: Sequence[str], transforms: Mapping[str, str]
) -> cl.ColumnLineageDatasetFacet:
    lineage: dict[str, cl.Fields] = {}
    for name in fields_released:
        transform = transforms.get(name)
        if transform is None:
            transformation = cl.Transformation(type="DIRECT", subtype="IDENTITY", masking=False)
        else:
            # Pseudonymising and generalising both hide the stored value from the partner.
            transformation = cl.Transformation(
                type="DIRECT", subtype="TRANSFORMATION", description=transform, masking=True
            )
        source = cl.InputField(
            namespace=STORE_NAMESPACE,
            name=contract.name,
            field=name,
            transformations=[transformation],
        )
        lineage[name] = cl.Fields(inputFields=[source])
    return cl.ColumnLineageDatasetFacet(fields=lineage, producer=PRODUCER)


def _delivery(
    contract: Contract,
    partner: str,
    fields_released: Sequence[str],
    transforms: Mapping[str, str],
    row_count: int,
) -> OutputDataset:
    namespace = partner_namespace(partner)
    facets: dict[str, Any] = {
        "schema": schema_facet(contract.field(name) for name in fields_released),
        "dataSource": data_source_facet(partner, namespace),
        "columnLineage": _released_lineage(contract, fields_released, transforms),
    }
    statistics = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=row_count, producer=PRODUCER
    )
    return OutputDataset(
        namespace=namespace,
        name=contract.name,
        facets=facets,
        outputFacets={"outputStatistics": statistics},
    )


def _share_job(contract: Contract) -> Job:
    facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="TILLIT", jobType="SHARE", producer=PRODUCER
        ),
        "documentation": documentation_job.DocumentationJobFacet(
            description=f"Purpose-bound release of {contract.name} to partners by the broker.",
            contentType="text/plain",
            producer=PRODUCER,
        ),
    }
    return Job(namespace=JOB_NAMESPACE, name=share_job_name(contract.name), facets=facets)


def share_complete(
    *,
    share_id: str,
    contract: Contract,
    partner: str,
    purpose: str,
    legal_basis: str,
    agreement_id: str,
    agreement_version: str,
    fields_released: Sequence[str],
    withheld: Sequence[tuple[str, str]],
    transforms: Mapping[str, str],
    audit_seq: int,
    audit_hash: str,
    row_count: int,
    event_time: datetime,
) -> RunEvent:
    """COMPLETE of a share: the store table in, the partner's delivery out, ``tillit_share``."""
    share_id = str(uuid.UUID(share_id))
    unreleased = sorted(set(transforms) - set(fields_released))
    if unreleased:
        raise ValueError(f"transforms name fields that were not released: {unreleased}")
    if row_count < 0:
        raise ValueError(f"a row count cannot be negative: {row_count}")
    terms = TillitShareRunFacet(
        shareId=share_id,
        partner=partner,
        purpose=purpose,
        legalBasis=legal_basis,
        agreementId=agreement_id,
        agreementVersion=agreement_version,
        fieldsReleased=list(fields_released),
        fieldsWithheld=withheld_fields(withheld),
        transforms=applied_transforms(transforms),
        auditSeq=audit_seq,
        auditHash=audit_hash,
        producer=PRODUCER,
    )
    facets: dict[str, Any] = {SHARE_FACET: terms}
    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=event_time_text(event_time),
        run=Run(runId=share_id, facets=facets),
        job=_share_job(contract),
        inputs=[InputDataset(namespace=STORE_NAMESPACE, name=contract.name)],
        outputs=[_delivery(contract, partner, fields_released, transforms, row_count)],
        producer=PRODUCER,
    )
