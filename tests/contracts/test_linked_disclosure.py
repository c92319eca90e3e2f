"""Linked tables: no small cell is published and none can be recomputed through any equation."""

from __future__ import annotations

from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.disclosure import TOTAL, CountTable, Line, recomputable, suppress_linked

TABLE = CountTable(
    dimensions=(("area", (("a", "b", "c"),)), ("kind", (("x", "y"), ("p", "q")))),
    measures=("n", "yes", "no"),
    measure_sums=(("n", ("yes", "no")),),
)


def _truth(counts: dict[tuple[str, str, str], tuple[int, int]]) -> dict[tuple[str, ...], int]:
    """Full table values from inner counts (area, x-or-y, p-or-q) → (yes, no)."""
    values: dict[tuple[str, ...], int] = {}
    for area, kind in product(TABLE.values("area"), TABLE.values("kind")):
        yes = no = 0
        for (a, xy, pq), (y, n) in counts.items():
            if area not in (TOTAL, a):
                continue
            if kind not in (TOTAL, xy, pq):
                continue
            yes, no = yes + y, no + n
        values[(area, kind, "yes")], values[(area, kind, "no")] = yes, no
        values[(area, kind, "n")] = yes + no
    return values


def test_a_lone_hidden_member_is_recomputable_by_subtraction() -> None:
    values = {("t",): 10, ("a",): 7, ("b",): 3}
    line = Line(("t",), (("a",), ("b",)))
    assert recomputable(values, {("b",)}, [line]) == {("b",)}
    assert recomputable(values, {("a",), ("b",)}, [line]) == set()


def test_combined_lines_can_pin_down_cells_that_no_single_line_reveals() -> None:
    # a + b = 10, b + c = 9, a + c = 7: every line hides two cells, yet all three follow.
    lines = [
        Line(("s1",), (("a",), ("b",))),
        Line(("s2",), (("b",), ("c",))),
        Line(("s3",), (("a",), ("c",))),
    ]
    values = {("a",): 4, ("b",): 6, ("c",): 3, ("s1",): 10, ("s2",): 9, ("s3",): 7}
    assert recomputable(values, {("a",), ("b",), ("c",)}, lines) == {("a",), ("b",), ("c",)}
    hidden = suppress_linked(values, lines, 5)
    assert recomputable(values, hidden, lines) == set()
    assert ("c",) in hidden


def test_a_small_cell_in_a_breakdown_hides_a_partner_in_every_equation() -> None:
    counts = {("a", "x", "p"): (12, 6), ("b", "y", "q"): (9, 2), ("c", "x", "q"): (20, 11)}
    values = _truth(counts)
    hidden = suppress_linked(values, TABLE.lines(), 5)
    assert ("b", "y", "no") in hidden  # the primary cell
    for line in TABLE.lines():
        assert sum(cell in hidden for cell in line.cells) != 1
    assert recomputable(values, hidden, TABLE.lines()) == set()


inner = st.dictionaries(
    st.tuples(st.sampled_from("abc"), st.sampled_from("xy"), st.sampled_from("pq")),
    st.tuples(st.integers(0, 12), st.integers(0, 12)),
    max_size=8,
)


@settings(max_examples=120, deadline=None)
@given(inner, st.sampled_from([3, 5]))
def test_no_published_cell_is_small_or_recomputable(
    counts: dict[tuple[str, str, str], tuple[int, int]], threshold: int
) -> None:
    values = _truth(counts)
    hidden = suppress_linked(values, TABLE.lines(), threshold)
    published = {cell: value for cell, value in values.items() if cell not in hidden}
    assert not [v for v in published.values() if 0 < v < threshold]
    assert recomputable(values, hidden, TABLE.lines()) == set()
