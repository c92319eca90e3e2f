"""The pure decision on a person's download of their own data (GDPR Art. 15 and 20)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from broker.config.datasets import DatasetInfo
from broker.config.models import SubjectAccess
from broker.policy.model import (
    PERMITTED,
    UNKNOWN_DATASET,
    WITHHELD_BY_LAW,
    AgreementRef,
    Decision,
    Obligations,
    Reason,
    Withheld,
    deny,
)

NOT_EXPORTABLE = "dataset_not_exportable"


def evaluate_subject_access(
    dataset_name: str, datasets: Mapping[str, DatasetInfo], access: SubjectAccess | None
) -> Decision:
    """Which fields of a dataset a person receives about themselves, and which the law withholds.

    Deny by default: only datasets the subject access rules list are exportable, and a
    withheld field is named in the obligations rather than silently left out.
    """
    if access is None:
        return deny(Reason(NOT_EXPORTABLE, "no data is available for download"))
    dataset = datasets.get(dataset_name)
    if dataset is None:
        return deny(Reason(UNKNOWN_DATASET, f"no dataset {dataset_name}"))
    if dataset_name not in access.datasets:
        return deny(Reason(NOT_EXPORTABLE, f"{dataset_name} is not available for download"))
    withheld_names = {rule.field for rule in access.withheld if rule.dataset == dataset_name}
    released = tuple(name for name in dataset.fields if name not in withheld_names)
    withheld = tuple(
        Withheld(name, WITHHELD_BY_LAW) for name in dataset.fields if name in withheld_names
    )
    obligations = Obligations(
        fields_released=released,
        withheld=withheld,
        transforms=MappingProxyType(dict.fromkeys(released, "keep")),
    )
    reason = Reason(PERMITTED, f"{access.id} {access.version} gives people their own data")
    return Decision(
        allowed=True,
        reasons=(reason,),
        matched_agreements=(AgreementRef(access.id, access.version),),
        obligations=obligations,
    )
