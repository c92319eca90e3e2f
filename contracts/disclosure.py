"""Statistical disclosure control for published counts: primary and secondary cell suppression.

A count below the threshold is suppressed (primary). Because totals are published too, a line
(row or column with its total) that has exactly one suppressed member would let anyone
recompute it by subtraction, so a second member of that line is suppressed as well (secondary),
until no line has exactly one suppressed member.

Linked tables (several dimensions with totals, and measures that add up to another measure)
get the same rule and one more: no suppressed cell may follow exactly from the published cells
through any combination of the table's equations, which a linear-algebra test decides.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
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


# -- Linked tables: several dimensions with totals, and measures that add up to another ---------

LinkedCell = tuple[str, ...]


@dataclass(frozen=True)
class Line:
    """One equation a published table exposes: ``members`` add up to ``total``."""

    total: LinkedCell
    members: tuple[LinkedCell, ...]

    @property
    def cells(self) -> tuple[LinkedCell, ...]:
        """The total and its members."""
        return (self.total, *self.members)


@dataclass(frozen=True)
class CountTable:
    """The layout of a published count table, one period at a time.

    Each dimension has one or more groupings whose members add up to ``Total`` (a district
    breakdown; household types and numbers of children as two breakdowns of one segment
    column), and a measure may be the sum of others (children = placed + not placed). A cell is
    one value of every dimension plus a measure name."""

    dimensions: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]
    measures: tuple[str, ...]
    measure_sums: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def values(self, dimension: str) -> tuple[str, ...]:
        """Every value a dimension takes, ``Total`` first."""
        groupings = dict(self.dimensions)[dimension]
        return (TOTAL, *dict.fromkeys(member for group in groupings for member in group))

    @property
    def dimension_names(self) -> tuple[str, ...]:
        """The dimension columns, in order."""
        return tuple(name for name, _ in self.dimensions)

    def cells(self) -> list[LinkedCell]:
        """Every cell of one period's table."""
        keys = list(product(*(self.values(name) for name in self.dimension_names)))
        return [(*key, measure) for key in keys for measure in self.measures]

    def lines(self) -> list[Line]:
        """Every equation of one period's table: dimension totals and measure sums."""
        names = self.dimension_names
        keys = list(product(*(self.values(name) for name in names)))
        lines: list[Line] = []
        for position, (_, groupings) in enumerate(self.dimensions):
            for key in keys:
                if key[position] != TOTAL:
                    continue
                for group in groupings:
                    for measure in self.measures:
                        members = tuple(
                            (*key[:position], member, *key[position + 1 :], measure)
                            for member in group
                        )
                        lines.append(Line((*key, measure), members))
        for total, parts in self.measure_sums:
            for key in keys:
                lines.append(Line((*key, total), tuple((*key, part) for part in parts)))
        return lines


def _rank(cell: LinkedCell, totals: set[LinkedCell], values: Mapping[LinkedCell, int]) -> Any:
    # Prefer the smallest positive inner cell, then any inner cell, then a total.
    return (cell in totals, values[cell] == 0, values[cell])


def recomputable(
    values: Mapping[LinkedCell, int], hidden: set[LinkedCell], lines: Sequence[Line]
) -> set[LinkedCell]:
    """Hidden cells whose value follows from the published cells and the table's equations.

    Each line is a linear equation over the hidden cells (published values move to the right
    side); a hidden cell is determined exactly when its unit vector lies in the row space of
    those equations, i.e. when every solution of the homogeneous system leaves it at zero."""
    unknowns = sorted(hidden)
    if not unknowns:
        return set()
    column = {cell: index for index, cell in enumerate(unknowns)}
    rows = []
    for line in lines:
        row = np.zeros(len(unknowns))
        if line.total in column:
            row[column[line.total]] = -1.0
        for member in line.members:
            if member in column:
                row[column[member]] += 1.0
        if row.any():
            rows.append(row)
    if not rows:
        return set()
    matrix = np.array(rows)
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9).sum())
    null_space = vt[rank:]
    if null_space.shape[0] == 0:
        return set(unknowns)
    free = np.abs(null_space).max(axis=0) > 1e-9
    return {cell for cell in unknowns if not free[column[cell]]}


def _protect_line(
    line: Line, hidden: set[LinkedCell], totals: set[LinkedCell], values: Mapping[LinkedCell, int]
) -> bool:
    open_cells = [cell for cell in line.cells if cell not in hidden]
    if not open_cells:
        return False
    hidden.add(min(open_cells, key=lambda cell: _rank(cell, totals, values)))
    return True


def _widen(
    start: LinkedCell,
    by_cell: Mapping[LinkedCell, list[Line]],
    hidden: set[LinkedCell],
    totals: set[LinkedCell],
    values: Mapping[LinkedCell, int],
) -> bool:
    seen_cells, seen_lines = {start}, set()
    frontier = [start]
    while frontier:
        following = []
        for cell in frontier:
            for line in by_cell.get(cell, []):
                if id(line) in seen_lines:
                    continue
                seen_lines.add(id(line))
                if _protect_line(line, hidden, totals, values):
                    return True
                following += [c for c in line.cells if c not in seen_cells]
                seen_cells.update(line.cells)
        frontier = following
    return False


def suppress_linked(
    values: Mapping[LinkedCell, int], lines: Sequence[Line], threshold: int
) -> set[LinkedCell]:
    """The cells to hide so that no published count is in 1..threshold-1 and no hidden cell can
    be recomputed, exactly, from the published cells through the table's equations."""
    hidden = {cell for cell, value in values.items() if 0 < value < threshold}
    totals = {line.total for line in lines}
    by_cell: dict[LinkedCell, list[Line]] = {}
    for line in lines:
        for cell in line.cells:
            by_cell.setdefault(cell, []).append(line)
    while True:
        # Cheap first: a line with exactly one hidden member gives it away by subtraction.
        changed = True
        while changed:
            changed = False
            for line in lines:
                if sum(cell in hidden for cell in line.cells) == 1:
                    changed |= _protect_line(line, hidden, totals, values)
        exposed = recomputable(values, hidden, lines)
        if not exposed:
            return hidden
        # Combinations of lines can still pin a cell down: widen around one exposed cell,
        # protecting the nearest line (through shared cells) that still has a published cell.
        if not _widen(min(exposed), by_cell, hidden, totals, values):
            return hidden


def table_values(
    frame: pd.DataFrame, table: CountTable
) -> tuple[dict[LinkedCell, int | None], list[str]]:
    """One period's long frame (dimension columns, one column per measure) as cells; problems
    name cells the table layout expects but the frame lacks."""
    indexed = frame.set_index(list(table.dimension_names))
    values: dict[LinkedCell, int | None] = {}
    missing = []
    for cell in table.cells():
        key, measure = cell[:-1], cell[-1]
        lookup = key if len(key) > 1 else key[0]
        if lookup not in indexed.index:
            missing.append(" / ".join(key))
            continue
        value: Any = indexed.at[lookup, measure]
        values[cell] = None if pd.isna(value) else int(value)
    return values, sorted(set(missing))


def table_problems(frame: pd.DataFrame, table: CountTable, threshold: int) -> list[str]:
    """Why one period of a published linked table would disclose a small cell, if it would."""
    values, missing = table_values(frame, table)
    problems = [f"cells missing from the table: {', '.join(missing[:5])}"] if missing else []
    small = [cell for cell, value in values.items() if value is not None and 0 < value < threshold]
    if small:
        problems.append(f"{len(small)} published cells are below {threshold}")
    hidden = {cell for cell, value in values.items() if value is None}
    known = {cell: value or 0 for cell, value in values.items()}
    exposed = recomputable(
        known, hidden, [line for line in table.lines() if set(line.cells) <= set(values)]
    )
    if exposed:
        problems.append(f"{len(exposed)} suppressed cells can be recomputed from the others")
    return problems
