"""k-anonymity of released rows over their quasi-identifiers, reported as receipt warnings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_K = 5


def _group_sizes(
    columns: Mapping[str, Sequence[Any]], quasi_identifiers: Sequence[str]
) -> list[int] | None:
    """Row counts of the distinct combinations of the released quasi-identifiers.

    Missing values form a group of their own: a row with a gap is still distinguishable by it.
    """
    present = [name for name in quasi_identifiers if name in columns]
    if not present or not len(columns[present[0]]):
        return None
    # v != v only for NaN: a numeric column's gap counts with the other missing values.
    values = [[None if v != v else v for v in columns[name]] for name in present]  # noqa: PLR0124
    return list(Counter(zip(*values, strict=True)).values())


def smallest_group(
    columns: Mapping[str, Sequence[Any]], quasi_identifiers: Sequence[str]
) -> int | None:
    """k of the rows: the size of the smallest group sharing all released quasi-identifiers.

    None when no quasi-identifier is released or there are no rows.
    """
    sizes = _group_sizes(columns, quasi_identifiers)
    return None if sizes is None else min(sizes)


def k_anonymity_warnings(
    columns: Mapping[str, Sequence[Any]], quasi_identifiers: Sequence[str], k: int = DEFAULT_K
) -> list[str]:
    """Receipt warnings when some combination of released quasi-identifiers has under k rows."""
    sizes = _group_sizes(columns, quasi_identifiers)
    if sizes is None:
        return []
    small = [size for size in sizes if size < k]
    if not small:
        return []
    released = [name for name in quasi_identifiers if name in columns]
    total = sum(sizes)
    return [
        f"k-anonymity below {k}: {len(small)} combination(s) of {', '.join(released)} "
        f"cover fewer than {k} rows each (smallest {min(sizes)}); "
        f"{sum(small)} of {total} row(s) are in such groups"
    ]
