"""Suppressed tables never show a small cell and never let one be recomputed from totals."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from contracts.disclosure import TOTAL, suppress


def test_a_small_cell_and_its_complement_are_suppressed() -> None:
    table = pd.DataFrame({"Keskusta": [12, 3], "Nastola": [9, 15]}, index=["2026-01", "2026-02"])
    published = suppress(table, 5)
    assert published.isna().at["2026-02", "Keskusta"]
    # Row 2026-02 and column Keskusta each need a second suppressed member.
    assert published.loc["2026-02"].isna().sum() >= 2
    assert published["Keskusta"].isna().sum() >= 2
    assert published.at[TOTAL, TOTAL] == 39


def test_zero_counts_are_published() -> None:
    published = suppress(pd.DataFrame({"n": [0, 7, 9]}), 5, row_totals=False)
    assert published["n"].tolist() == [0, 7, 9, 16]


counts = st.integers(min_value=0, max_value=40)


@settings(max_examples=150, deadline=None)
@given(
    data_frames(
        columns=[column(name, elements=counts) for name in ("a", "b", "c", "d")],
        index=range_indexes(min_size=1, max_size=6),
    ),
    st.sampled_from([3, 5]),
)
def test_no_small_cell_is_shown_or_recomputable(table: pd.DataFrame, threshold: int) -> None:
    published = suppress(table, threshold)
    shown = published.stack().dropna()
    assert not ((shown > 0) & (shown < threshold)).any()
    hidden = published.isna()
    # A line with exactly one hidden member would give that member away by subtraction.
    assert not (hidden.sum(axis=1) == 1).any()
    assert not (hidden.sum(axis=0) == 1).any()
    # Published values are the true counts.
    truth = table.copy()
    truth[TOTAL] = truth.sum(axis=1)
    truth.loc[TOTAL] = truth.sum(axis=0)
    assert (published.fillna(-1) == truth.where(~hidden, -1)).all().all()
