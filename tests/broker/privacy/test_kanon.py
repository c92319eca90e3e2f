"""k-anonymity over the released quasi-identifiers drives receipt warnings."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from broker.privacy import k_anonymity_warnings, smallest_group

ROWS = pd.DataFrame(
    {
        "birth_year": [2015] * 6 + [2016] * 5 + [2017],
        "district": ["Keskusta"] * 6 + ["Nastola"] * 6,
        "pseudonym": [f"p{i}" for i in range(12)],
    }
)


def test_a_unique_combination_warns() -> None:
    quasi = ["birth_year", "district"]
    assert smallest_group(ROWS, quasi) == 1
    warnings = k_anonymity_warnings(ROWS, quasi, k=5)
    assert len(warnings) == 1
    assert "birth_year, district" in warnings[0] and "smallest 1" in warnings[0]
    assert "1 of 12 row(s)" in warnings[0]


def test_large_enough_groups_do_not_warn() -> None:
    assert smallest_group(ROWS, ["district"]) == 6
    assert k_anonymity_warnings(ROWS, ["district"], k=5) == []


def test_only_released_quasi_identifiers_count() -> None:
    assert smallest_group(ROWS, ["sex", "district"]) == 6
    assert smallest_group(ROWS, ["sex"]) is None
    assert k_anonymity_warnings(ROWS, ["sex"]) == []
    assert smallest_group(ROWS.iloc[:0], ["district"]) is None


def test_missing_values_form_their_own_group() -> None:
    rows = pd.DataFrame({"district": ["Keskusta"] * 5 + [None]})
    assert smallest_group(rows, ["district"]) == 1


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Keskusta", "Nastola", None]),
            st.sampled_from([2015, 2016, None]),
            st.sampled_from(["male", "female"]),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_group_sizes_agree_with_a_pandas_groupby(rows: list[tuple[object, ...]]) -> None:
    frame = pd.DataFrame(rows, columns=["district", "birth_year", "sex"])
    quasi = ["district", "birth_year", "sex"]
    expected = frame.groupby(quasi, dropna=False).size()
    assert smallest_group(frame, quasi) == int(expected.min())
    small = expected[expected < 3]
    warnings = k_anonymity_warnings(frame, quasi, k=3)
    assert len(warnings) == (1 if len(small) else 0)
    if len(small):
        assert f"{int(small.sum())} of {len(frame)} row(s)" in warnings[0]
