"""Apply an agreement's per-field transforms to the rows of a share, releasing nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pandas as pd

from broker.privacy.generalise import generalise
from broker.privacy.pseudonym import Pseudonymiser

KEEP = "keep"
DROP = "drop"
PSEUDONYMISE = "pseudonymise"
GENERALISE_PREFIX = "generalise:"


def _transform_column(
    column: pd.Series,
    transform: str,
    pseudonymiser: Pseudonymiser | None,
    as_of: date | None,
) -> pd.Series:
    if transform == KEEP:
        return column
    if transform == PSEUDONYMISE:
        if pseudonymiser is None:
            raise ValueError(f"field {column.name!r} must be pseudonymised but no key was given")
        return pseudonymiser.pseudonymise(column)
    if transform.startswith(GENERALISE_PREFIX):
        return generalise(column, transform.removeprefix(GENERALISE_PREFIX), as_of=as_of)
    raise ValueError(f"unknown transform {transform!r} for field {column.name!r}")


def apply_transforms(
    frame: pd.DataFrame,
    transforms: Mapping[str, str],
    *,
    pseudonymiser: Pseudonymiser | None,
    as_of: date | None,
) -> pd.DataFrame:
    """The released columns, in the order of ``transforms``, each kept, pseudonymised or
    generalised; dropped fields and fields without a transform are not released."""
    missing = [name for name, how in transforms.items() if how != DROP and name not in frame]
    if missing:
        raise ValueError(f"fields to release are not in the rows: {', '.join(missing)}")
    released = {
        name: _transform_column(frame[name], how, pseudonymiser, as_of)
        for name, how in transforms.items()
        if how != DROP
    }
    return pd.DataFrame(released, index=frame.index)
