"""Apply an agreement's per-field transforms to the rows of a share, releasing nothing else."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from broker.privacy.generalise import generalise
from broker.privacy.pseudonym import Pseudonymiser

KEEP = "keep"
DROP = "drop"
PSEUDONYMISE = "pseudonymise"
GENERALISE_PREFIX = "generalise:"

Columns = dict[str, list[Any]]
"""Rows held column by column: each released field's values, in row order."""


def _transform_column(
    name: str,
    values: Sequence[Any],
    transform: str,
    pseudonymiser: Pseudonymiser | None,
    as_of: date | None,
) -> list[Any]:
    if transform == KEEP:
        return list(values)
    if transform == PSEUDONYMISE:
        if pseudonymiser is None:
            raise ValueError(f"field {name!r} must be pseudonymised but no key was given")
        return pseudonymiser.pseudonymise(values)
    if transform.startswith(GENERALISE_PREFIX):
        rule = transform.removeprefix(GENERALISE_PREFIX)
        return generalise(values, rule, as_of=as_of, column=name)
    raise ValueError(f"unknown transform {transform!r} for field {name!r}")


def apply_transforms(
    columns: Mapping[str, Sequence[Any]],
    transforms: Mapping[str, str],
    *,
    pseudonymiser: Pseudonymiser | None,
    as_of: date | None,
) -> Columns:
    """The released columns, in the order of ``transforms``, each kept, pseudonymised or
    generalised; dropped fields and fields without a transform are not released."""
    missing = [name for name, how in transforms.items() if how != DROP and name not in columns]
    if missing:
        raise ValueError(f"fields to release are not in the rows: {', '.join(missing)}")
    return {
        name: _transform_column(name, columns[name], how, pseudonymiser, as_of)
        for name, how in transforms.items()
        if how != DROP
    }
