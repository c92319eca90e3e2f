"""Aggregate counts never show a small cell, nor let one be recomputed from the totals."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.privacy import aggregate_counts
from broker.store.rows import columns_of, json_rows
from contracts.disclosure import TOTAL

DISTRICTS = ["Keskusta", "Nastola", "Kivimaa-Kartano", None]
MONTHS = ["2026-01", "2026-02", "2026-03"]


def test_one_dimension_with_total() -> None:
    rows = pd.DataFrame({"district": ["Keskusta"] * 12 + ["Nastola"] * 2 + ["Laune"] * 6})
    counts = aggregate_counts(rows, ["district"], 5)
    assert list(counts.columns) == ["district", "count"]
    published = dict(zip(counts["district"], counts["count"], strict=True))
    assert published["Keskusta"] == 12 and published[TOTAL] == 20
    assert pd.isna(published["Nastola"]) and pd.isna(published["Laune"]), "2 and its complement"


def test_two_dimensions_in_long_form() -> None:
    rows = pd.DataFrame(
        {"district": ["Keskusta"] * 20 + ["Nastola"] * 10, "month": MONTHS[:2] * 15}
    )
    counts = aggregate_counts(rows, ["district", "month"], 5)
    assert list(counts.columns) == ["district", "month", "count"]
    assert len(counts) == 3 * 3
    total = counts[(counts["district"] == TOTAL) & (counts["month"] == TOTAL)]["count"]
    assert total.tolist() == [30]
    assert counts["count"].notna().all()


def test_rows_with_a_missing_dimension_are_counted_as_unknown() -> None:
    rows = pd.DataFrame({"district": ["Keskusta"] * 6 + [None] * 5})
    counts = aggregate_counts(rows, ["district"], 5)
    assert counts["district"].tolist() == ["Keskusta", "Unknown", TOTAL]
    assert counts["count"].tolist() == [6, 5, 11]


def test_bad_requests_are_refused() -> None:
    rows = pd.DataFrame({"district": ["Keskusta"], "month": ["2026-01"], "year": [2026]})
    with pytest.raises(ValueError, match="one dimension or by two"):
        aggregate_counts(rows, ["district", "month", "year"], 5)
    with pytest.raises(ValueError, match="no such dimension"):
        aggregate_counts(rows, ["sex"], 5)


def _lines(counts: pd.DataFrame, dimensions: list[str]) -> list[pd.Series]:
    """Every published line: a row or column of the table together with its total."""
    if len(dimensions) == 1:
        return [counts["count"]]
    wide = counts.pivot(index=dimensions[0], columns=dimensions[1], values="count")
    return [wide.loc[label] for label in wide.index] + [wide[label] for label in wide.columns]


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(DISTRICTS), st.sampled_from(MONTHS)), max_size=80),
    st.sampled_from([["district"], ["district", "month"], ["month", "district"]]),
    st.sampled_from([3, 5]),
)
def test_no_small_cell_shows_and_no_line_has_one_hidden_cell(
    pairs: list[tuple[str | None, str]], dimensions: list[str], k: int
) -> None:
    rows = pd.DataFrame(pairs, columns=["district", "month"])
    counts = aggregate_counts(rows, dimensions, k)
    shown = counts["count"].dropna()
    assert not ((shown > 0) & (shown < k)).any()
    for line in _lines(counts, dimensions):
        assert line.isna().sum() != 1
    labelled = rows.fillna("Unknown")
    for cell in counts.dropna().itertuples(index=False):
        wanted = labelled
        for name, value in zip(dimensions, cell[:-1], strict=True):
            wanted = wanted if value == TOTAL else wanted[wanted[name] == value]
        assert cell[-1] == len(wanted), "every published count is the true count"


def test_labels_of_a_nullable_integer_dimension_are_plain_json_values() -> None:
    years = pd.Series(pd.array([2024, 2025, None, 2024, 2025, 2025], dtype="Int64"))
    table = aggregate_counts(pd.DataFrame({"year": years}), ["year"], 3)
    assert json.loads(json.dumps(json_rows(columns_of(table)))) == [
        {"year": 2024, "count": None},
        {"year": 2025, "count": 3},
        {"year": "Unknown", "count": None},
        {"year": "Total", "count": 6},
    ]
