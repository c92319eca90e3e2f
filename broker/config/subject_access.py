"""Read and cross-check `subject_access.yaml`: what people may download about themselves."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from broker.config.datasets import DatasetInfo
from broker.config.models import LegalBasis, Purpose, SubjectAccess
from broker.config.yaml_files import describe_validation_error, read_yaml
from broker.errors import ConfigurationError


def read_subject_access(
    path: Path,
    purposes: Mapping[str, Purpose],
    legal_bases: Mapping[str, LegalBasis],
    datasets: Mapping[str, DatasetInfo],
) -> SubjectAccess | None:
    """The subject access rules, or None when the file is absent (then nothing is exportable)."""
    if not path.exists():
        return None
    document = read_yaml(path)
    if not isinstance(document, dict):
        raise ConfigurationError(path, "expected the subject access rules as a mapping")
    try:
        access = SubjectAccess.model_validate(document)
    except ValidationError as exc:
        raise ConfigurationError(path, describe_validation_error(exc, "")) from None
    purpose = purposes.get(access.purpose)
    if purpose is None:
        raise ConfigurationError(path, f"unknown purpose {access.purpose!r}")
    if access.legal_basis not in purpose.legal_bases:
        raise ConfigurationError(
            path, f"purpose {purpose.id!r} does not rest on legal basis {access.legal_basis!r}"
        )
    for dataset in access.datasets:
        info = datasets.get(dataset)
        if info is None:
            raise ConfigurationError(path, f"unknown dataset {dataset!r}")
        if not any(info.is_direct_identifier(name) for name in info.fields):
            raise ConfigurationError(path, f"dataset {dataset!r} names no person")
    for rule in access.withheld:
        if rule.dataset not in access.datasets:
            raise ConfigurationError(path, f"withheld names unlisted dataset {rule.dataset!r}")
        if rule.field not in datasets[rule.dataset].fields:
            raise ConfigurationError(path, f"dataset {rule.dataset!r} has no field {rule.field!r}")
        if rule.legal_basis not in legal_bases:
            raise ConfigurationError(path, f"unknown legal basis {rule.legal_basis!r}")
    return access
