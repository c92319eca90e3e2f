"""Consent agreements and subject access rules: what start-up refuses, naming file and problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from broker.config import DatasetInfo, load_config
from broker.errors import ConfigurationError
from tests.broker.conftest import copy_demo_config

SCHOOL_START = "agreements/lahti-education-school-start-consent.yaml"
KELA = "agreements/kela-daycare-fee-decision.yaml"


def _edit(file: str, change: Callable[[Any], None]) -> Callable[[Path], None]:
    def mutate(config_dir: Path) -> None:
        path = config_dir / file
        document = yaml.safe_load(path.read_text())
        change(document)
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    return mutate


def _mandatory(document: dict[str, Any]) -> None:
    for purpose in document["purposes"]:
        if purpose["id"] == "school_start_support":
            purpose["mandatory"] = True


CASES = [
    (
        "consent type on a statutory basis",
        _edit(KELA, lambda d: d.update(legal_basis_type="consent")),
        "kela-daycare-fee-decision.yaml",
        "does not fit legal basis 'ece_act_540_2018'",
    ),
    (
        "statutory type on the consent basis",
        _edit(SCHOOL_START, lambda d: d.pop("legal_basis_type")),
        "lahti-education-school-start-consent.yaml",
        "legal_basis_type statutory does not fit legal basis 'consent'",
    ),
    (
        "consent for a legal obligation",
        _edit("purposes.yaml", _mandatory),
        "lahti-education-school-start-consent.yaml",
        "a legal obligation cannot rest on consent",
    ),
    (
        "consent to counts",
        _edit(SCHOOL_START, lambda d: d.update(aggregate_only=True)),
        "lahti-education-school-start-consent.yaml",
        "releases consenting people's rows, not counts",
    ),
    (
        "download of an unknown dataset",
        _edit("subject_access.yaml", lambda d: d["datasets"].append("no_such_dataset")),
        "subject_access.yaml",
        "unknown dataset 'no_such_dataset'",
    ),
    (
        "download of a dataset naming nobody",
        _edit("subject_access.yaml", lambda d: d["datasets"].append("households")),
        "subject_access.yaml",
        "dataset 'households' names no person",
    ),
    (
        "withholding an unknown field",
        _edit("subject_access.yaml", lambda d: d["withheld"][0].update(field="colour")),
        "subject_access.yaml",
        "has no field 'colour'",
    ),
    (
        "downloads on a basis the purpose does not allow",
        _edit("subject_access.yaml", lambda d: d.update(legal_basis="consent")),
        "subject_access.yaml",
        "does not rest on legal basis 'consent'",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "file", "problem"), [pytest.param(*case[1:], id=case[0]) for case in CASES]
)
def test_inconsistent_consent_configuration_is_refused(
    tmp_path: Path,
    datasets: dict[str, DatasetInfo],
    mutation: Callable[[Path], None],
    file: str,
    problem: str,
) -> None:
    config_dir, _ = copy_demo_config(tmp_path)
    mutation(config_dir)
    with pytest.raises(ConfigurationError) as caught:
        load_config(config_dir, datasets)
    assert caught.value.file is not None and Path(caught.value.file).name == file
    assert problem in str(caught.value)


def test_without_subject_access_rules_nothing_is_downloadable(
    tmp_path: Path, datasets: dict[str, DatasetInfo]
) -> None:
    config_dir, _ = copy_demo_config(tmp_path)
    (config_dir / "subject_access.yaml").unlink()
    assert load_config(config_dir, datasets).subject_access is None
