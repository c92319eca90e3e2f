"""Counts by one or two dimensions for aggregate-only agreements, with small cells suppressed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import pandas as pd

from contracts.disclosure import TOTAL, suppress

COUNT = "count"
# Rows whose dimension is missing are counted under this label, so totals match the rows.
UNKNOWN = "Unknown"


def _dimension(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column as ordered categories (missing last, as Unknown) so tables sort predictably."""
    column = frame[name]
    # Plain Python labels: numpy scalars (years of a nullable integer column) are not JSON.
    known = [v.item() if isinstance(v, np.generic) else v for v in sorted(column.dropna().unique())]
    if TOTAL in known:
        raise ValueError(f"dimension {name!r} has a category named {TOTAL!r}, reserved for totals")
    if column.isna().any() and UNKNOWN not in known:
        known.append(UNKNOWN)
    labelled = column.astype(object).where(column.notna(), UNKNOWN)
    return pd.Series(pd.Categorical(labelled, categories=known), index=frame.index, name=name)


def _plain_axes(table: pd.DataFrame) -> pd.DataFrame:
    """Object-typed axes: suppress adds Total labels, which a categorical axis would refuse."""
    table.index = table.index.astype(object)
    table.columns = table.columns.astype(object)
    return table


def _check(frame: pd.DataFrame, dimensions: Sequence[str], min_cell_size: int) -> None:
    if len(dimensions) not in (1, 2) or len(set(dimensions)) != len(dimensions):
        raise ValueError("counts are by one dimension or by two different dimensions")
    absent = [name for name in dimensions if name not in frame]
    if absent:
        raise ValueError(f"no such dimension in the rows: {', '.join(absent)}")
    if min_cell_size < 1:
        raise ValueError("min_cell_size must be at least 1")


def aggregate_counts(
    frame: pd.DataFrame, dimensions: list[str], min_cell_size: int
) -> pd.DataFrame:
    """Row counts by the dimensions, with totals, in long form (dimension columns + ``count``);
    cells that are, or would reveal, a count in 1..min_cell_size-1 are null."""
    _check(frame, dimensions, min_cell_size)
    if len(dimensions) == 1:
        (name,) = dimensions
        table = _plain_axes(_dimension(frame, name).value_counts(sort=False).to_frame(COUNT))
        published = suppress(table, min_cell_size, row_totals=False, column_totals=True)
        return published.rename_axis(name).reset_index()
    rows, columns = dimensions
    table = _plain_axes(
        pd.crosstab(_dimension(frame, rows), _dimension(frame, columns), dropna=False)
    )
    published = suppress(table, min_cell_size, row_totals=True, column_totals=True)
    # Stacking the only column level of a frame always gives a Series.
    long = cast(
        pd.Series, published.rename_axis(index=rows, columns=columns).stack(future_stack=True)
    )
    return long.to_frame(COUNT).reset_index()
