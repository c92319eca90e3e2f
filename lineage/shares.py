"""The run event of a permitted share: a store table released to a partner under an agreement.

The run id is the share id, so the event, the audit record and the partner's delivery all carry
the same identifier. Denials never become lineage: they are in the audit log only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset as cl,
)
from openlineage.client.facet_v2 import (
    documentation_job,
    job_type_job,
    output_statistics_output_dataset,
)
from openlineage.client.serde import Serde

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
from lineage.transports import run_event_from_dict

# The transform an agreement names for a field released as stored (the policy engine gives
# it to every released field without another): an identity, not a masking, in column lineage.
RELEASED_AS_STORED: Final = "keep"


def _released_lineage(
    contract: Contract, fields_released: Sequence[str], transforms: Mapping[str, str]
) -> cl.ColumnLineageDatasetFacet:
    lineage: dict[str, cl.Fields] = {}
    for name in fields_released:
        transform = transforms.get(name)
        if transform in (None, RELEASED_AS_STORED):
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


_PLACEHOLDER_ID: Final = "00000000-0000-4000-8000-000000000000"


def _refuse(*_: object, **__: object) -> None:
    raise TypeError("a share event template is shared by every share under its terms")


class _FrozenDict(dict[str, Any]):
    """A template's object: JSON writers read it as the dict it is; nothing may change it."""

    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]


class _FrozenList(list[Any]):
    """A template's array: JSON writers read it as the list it is; nothing may change it."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse  # type: ignore[assignment]
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return _FrozenDict({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list):
        return _FrozenList(_frozen(item) for item in value)
    return value


_TEMPLATES: dict[tuple[Any, ...], _FrozenDict] = {}
_MAX_TEMPLATES: Final = 1024


def _share_template(
    contract: Contract,
    partner: str,
    purpose: str,
    legal_basis: str,
    agreement_id: str,
    agreement_version: str,
    fields_released: tuple[str, ...],
    withheld: tuple[tuple[str, str], ...],
    transforms: tuple[tuple[str, str], ...],
) -> _FrozenDict:
    """The event of a share under one agreement's terms, with placeholder share values."""
    terms = (partner, purpose, legal_basis, agreement_id, agreement_version)
    released = (fields_released, withheld, transforms)
    key: tuple[Any, ...] = (contract.name, contract.version, *terms, *released)
    template = _TEMPLATES.get(key)
    if template is None:
        if len(_TEMPLATES) >= _MAX_TEMPLATES:
            _TEMPLATES.clear()
        template = _TEMPLATES[key] = _template(_event_text(contract, *terms, *released))
    return template


def _template(text: str) -> _FrozenDict:
    event = json.loads(text)
    # Checked once per terms, so no share's event needs checking again: the values a share
    # sets in its copy (ids, times, counts, the audit position) are of fixed types.
    run_event_from_dict(event)
    frozen: _FrozenDict = _frozen(event)
    return frozen


def _event_text(
    contract: Contract,
    partner: str,
    purpose: str,
    legal_basis: str,
    agreement_id: str,
    agreement_version: str,
    fields_released: tuple[str, ...],
    withheld: tuple[tuple[str, str], ...],
    transforms: tuple[tuple[str, str], ...],
) -> str:
    event = share_complete(
        share_id=_PLACEHOLDER_ID,
        contract=contract,
        partner=partner,
        purpose=purpose,
        legal_basis=legal_basis,
        agreement_id=agreement_id,
        agreement_version=agreement_version,
        fields_released=fields_released,
        withheld=withheld,
        transforms=dict(transforms),
        audit_seq=0,
        audit_hash="0" * 64,
        row_count=0,
        event_time=datetime(2000, 1, 1, tzinfo=UTC),
    )
    return json.dumps(Serde.to_dict(event))


def share_complete_dict(
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
) -> dict[str, Any]:
    """``share_complete`` as JSON-ready data (what ``to_dict`` gives), for the broker's hot path.

    Shares under the same terms differ only in their id, time, audit position and row count,
    so the event is built (and checked as a client event, ``run_event_from_dict``) once per
    terms. Each share's event is a new object along the paths to those values and shares the
    rest with the template, which refuses any change (TypeError): copy a part to change it,
    as ``with_audit_position`` does.
    """
    share_id = str(uuid.UUID(share_id))
    if row_count < 0:
        raise ValueError(f"a row count cannot be negative: {row_count}")
    template = _share_template(
        contract,
        partner,
        purpose,
        legal_basis,
        agreement_id,
        agreement_version,
        tuple(fields_released),
        tuple(withheld),
        tuple(transforms.items()),
    )
    run, (output, *others) = template["run"], template["outputs"]
    terms = run["facets"][SHARE_FACET] | {
        "shareId": share_id,
        "auditSeq": audit_seq,
        "auditHash": audit_hash,
    }
    facets = output["outputFacets"]
    statistics = facets["outputStatistics"] | {"rowCount": row_count}
    return template | {
        "eventTime": event_time_text(event_time),
        "run": run | {"runId": share_id, "facets": run["facets"] | {SHARE_FACET: terms}},
        "outputs": [output | {"outputFacets": facets | {"outputStatistics": statistics}}, *others],
    }


def with_audit_position(event: dict[str, Any], audit_seq: int, audit_hash: str) -> dict[str, Any]:
    """A share event (``share_complete_dict``) carrying the audit record it was committed with."""
    run = event["run"]
    terms = run["facets"][SHARE_FACET] | {"auditSeq": audit_seq, "auditHash": audit_hash}
    facets = run["facets"] | {SHARE_FACET: terms}
    return event | {"run": run | {"facets": facets}}
