"""Goals and indicators are checked against the contracts when they are defined."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.errors import ContractError
from contracts.goals import Direction, Target, Unit, define_goal, define_indicator
from contracts.leaders import all_goals, all_indicators, get_indicator
from contracts.registry import get_contract

TEXT = {"fi": "Mittari", "sv": "Indikator", "en": "Indicator"}
READS = {
    "daycare_within_four_months": "1.0.0",
    "persons": "1.0.0",
    "households": "1.0.0",
    "ece_placements": "1.1.0",
}


def _indicator(**changes: Any) -> Any:
    arguments: dict[str, Any] = {
        "title": TEXT,
        "description": TEXT,
        "asset": "daycare_within_four_months",
        "numerator": "placed",
        "denominator": "children",
        "unit": Unit.PERCENT,
        "target": Target(90.0, Direction.AT_LEAST),
        "owner": "team:city-analytics",
        "reads": READS,
    }
    return define_indicator("test_indicator", **{**arguments, **changes})


def test_every_goal_names_registered_indicators_reading_current_contracts() -> None:
    assert all_goals()
    for goal in all_goals():
        assert set(goal.statement) == {"fi", "sv", "en"}
        for indicator in goal.indicators:
            assert get_indicator(indicator.id) is indicator
            for name, version in indicator.reads.items():
                assert get_contract(name).version == version
            assert get_contract(indicator.asset).aggregate
    assert {i.id for i in all_indicators()} == {i.id for g in all_goals() for i in g.indicators}


def test_a_well_formed_indicator_is_accepted() -> None:
    indicator = _indicator()
    assert indicator.value(9, 10) == 90.0
    assert indicator.value(None, 10) is None
    assert indicator.value(3, None) is None
    assert indicator.value(0, 0) is None
    assert indicator.target.met_by(90.0) and not indicator.target.met_by(89.9)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"asset": "no_such_table"}, "no asset publishes 'no_such_table'"),
        ({"asset": "persons"}, "is not a suppressed aggregate"),
        ({"numerator": "hugs"}, "has no field 'hugs'"),
        ({"numerator": "district"}, "is not a count"),
        ({"denominator": None}, "a percentage needs a denominator"),
        ({"reads": {**READS, "persons": "0.9.0"}}, "reads persons 0.9.0, but the registered"),
        ({"reads": {**READS, "salaries": "1.0.0"}}, "reads unknown contract 'salaries'"),
        (
            {"reads": {k: v for k, v in READS.items() if k != "ece_placements"}},
            "['ece_placements'], which the indicator does not name",
        ),
        ({"title": {"fi": "Mittari", "en": "Indicator"}}, "has no text in sv"),
        ({"owner": "analytics"}, "must be 'team:…' or 'user:…'"),
    ],
)
def test_a_broken_indicator_fails_with_a_clear_error(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ContractError, match="test_indicator") as raised:
        _indicator(**changes)
    assert message in str(raised.value)


def test_a_goal_naming_an_unknown_indicator_fails() -> None:
    known = {"test_indicator": _indicator()}
    with pytest.raises(ContractError, match=r"unknown indicators \['missing'\]"):
        define_goal(
            "test_goal",
            statement=TEXT,
            owner="team:x",
            indicators=("test_indicator", "missing"),
            known=known,
        )
    assert define_goal(
        "test_goal", statement=TEXT, owner="team:x", indicators=("test_indicator",), known=known
    ).indicators == (known["test_indicator"],)


def test_an_unknown_indicator_id_lists_the_known_ones() -> None:
    with pytest.raises(ContractError, match="daycare_place_within_four_months"):
        get_indicator("happiness")
