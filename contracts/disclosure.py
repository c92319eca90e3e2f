"""Statistical disclosure control for published counts: primary and secondary cell suppression.

A count below the threshold is suppressed (primary). Because totals are published too, a line
(row or column with its total) that has exactly one suppressed member would let anyone
recompute it by subtraction, so a second member of that line is suppressed as well (secondary),
until no line has exactly one suppressed member.
"""

from __future__ import annotations

from collections.abc import Hashable

import pandas as pd

TOTAL = "Total"
Cell = tuple[Hashable, Hashable]


def with_totals(table: pd.DataFrame, *, row_totals: bool, column_totals: bool) -> pd.DataFrame:
    """The table with a ``Total`` column (row sums) and/or a ``Total`` row (column sums)."""
    full = table.astype("int64").copy()
    if row_totals:
        full[TOTAL] = full.sum(axis=1)
    if column_totals:
        full.loc[TOTAL] = full.sum(axis=0)
    return full


def _lines(full: pd.DataFrame, row_totals: bool, column_totals: bool) -> list[list[Cell]]:
    """Every equation 'members sum to the total' the published table exposes, as cell lists."""
    lines: list[list[Cell]] = []
    if row_totals:
        lines += [[(r, c) for c in full.columns] for r in full.index]
    if column_totals:
        lines += [[(r, c) for r in full.index] for c in full.columns]
    return lines


def _protect(line: list[Cell], full: pd.DataFrame, mask: pd.DataFrame) -> bool:
    """Suppress a second member of a line that has exactly one suppressed member."""
    hidden = [cell for cell in line if mask.at[cell]]
    if len(hidden) != 1:
        return False
    open_cells = [cell for cell in line if not mask.at[cell]]
    if not open_cells:
        return False
    # Prefer the smallest positive inner cell, then any inner cell, then the total.
    ranked = sorted(
        open_cells,
        key=lambda cell: (TOTAL in cell, full.at[cell] == 0, full.at[cell]),
    )
    mask.at[ranked[0]] = True
    return True


def suppress(
    table: pd.DataFrame, threshold: int, *, row_totals: bool = True, column_totals: bool = True
) -> pd.DataFrame:
    """Counts with totals, where every cell that is, or would reveal, a count in 1..threshold-1
    is missing (``pd.NA``). Zero cells are published: an empty cell identifies no one."""
    full = with_totals(table, row_totals=row_totals, column_totals=column_totals)
    mask = (full > 0) & (full < threshold)
    lines = _lines(full, row_totals, column_totals)
    changed = True
    while changed:
        changed = False
        for line in lines:
            changed |= _protect(line, full, mask)
    return full.astype("Int64").mask(mask)
