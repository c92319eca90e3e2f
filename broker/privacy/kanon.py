"""k-anonymity of released rows over their quasi-identifiers, reported as receipt warnings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_K = 5


def _group_sizes(frame: pd.DataFrame, quasi_identifiers: Sequence[str]) -> np.ndarray | None:
    """Row counts of the distinct combinations of the released quasi-identifiers."""
    present = [name for name in quasi_identifiers if name in frame.columns]
    if not present or frame.empty:
        return None
    # Each column's values become dense codes, folded into one code per combination and
    # re-densified after every column so it never overflows; a groupby over several object
    # columns costs several times more for the same counts. Missing values get a code of
    # their own: a row with a gap is still distinguishable by it.
    combined = np.zeros(len(frame), dtype=np.int64)
    for name in present:
        codes, uniques = pd.factorize(frame[name], use_na_sentinel=False)
        combined, _ = pd.factorize(combined * (len(uniques) + 1) + codes)
    return np.bincount(combined)


def smallest_group(frame: pd.DataFrame, quasi_identifiers: Sequence[str]) -> int | None:
    """k of the rows: the size of the smallest group sharing all released quasi-identifiers.

    None when no quasi-identifier is released or there are no rows.
    """
    sizes = _group_sizes(frame, quasi_identifiers)
    return None if sizes is None else int(sizes.min())


def k_anonymity_warnings(
    frame: pd.DataFrame, quasi_identifiers: Sequence[str], k: int = DEFAULT_K
) -> list[str]:
    """Receipt warnings when some combination of released quasi-identifiers has under k rows."""
    sizes = _group_sizes(frame, quasi_identifiers)
    if sizes is None:
        return []
    small = sizes[sizes < k]
    if not small.size:
        return []
    released = [name for name in quasi_identifiers if name in frame.columns]
    rows = int(small.sum())
    return [
        f"k-anonymity below {k}: {len(small)} combination(s) of {', '.join(released)} "
        f"cover fewer than {k} rows each (smallest {int(sizes.min())}); "
        f"{rows} of {len(frame)} row(s) are in such groups"
    ]
