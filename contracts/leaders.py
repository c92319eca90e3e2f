"""The goals Lahti's leaders steer by, and their indicators: the registry of goals.

Add an indicator with ``define_indicator`` and name it in a goal; importing this module checks
both against the registered contracts (see docs/stewards.md).
"""

from __future__ import annotations

from contracts.errors import ContractError
from contracts.goals import (
    Direction,
    Goal,
    Indicator,
    Target,
    Unit,
    define_goal,
    define_indicator,
)

DAYCARE_PLACE_WITHIN_FOUR_MONTHS = define_indicator(
    "daycare_place_within_four_months",
    title={
        "fi": "Varhaiskasvatuspaikka neljässä kuukaudessa muutosta",
        "sv": "Plats i småbarnspedagogik inom fyra månader efter flytten",
        "en": "Daycare place within four months of moving in",
    },
    description={
        "fi": "Osuus Lahteen toisesta kunnasta muuttaneista 1–6-vuotiaista, joiden "
        "varhaiskasvatus alkoi neljän kuukauden kuluessa muutosta, muuttokuukauden mukaan.",
        "sv": "Andelen barn i åldern 1–6 år som flyttat till Lahtis från en annan kommun och "
        "vars småbarnspedagogik började inom fyra månader efter flytten, per flyttmånad.",
        "en": "Share of children aged 1–6 who moved to Lahti from another municipality and "
        "whose early childhood education started within four months, by month of the move.",
    },
    asset="daycare_within_four_months",
    numerator="placed",
    denominator="children",
    unit=Unit.PERCENT,
    target=Target(90.0, Direction.AT_LEAST),
    owner="team:early-childhood-education",
    reads={
        "daycare_within_four_months": "1.0.0",
        "persons": "1.0.0",
        "households": "1.0.0",
        "ece_placements": "1.1.0",
    },
)

CHILDREN_WITHOUT_PLACE = define_indicator(
    "children_without_place_after_four_months",
    title={
        "fi": "Muuttaneet lapset ilman paikkaa neljän kuukauden jälkeen",
        "sv": "Inflyttade barn utan plats efter fyra månader",
        "en": "Children who moved in without a place after four months",
    },
    description={
        "fi": "Lahteen muuttaneet 1–6-vuotiaat, joiden varhaiskasvatus ei alkanut neljän "
        "kuukauden kuluessa muutosta, muuttokuukauden mukaan.",
        "sv": "Barn i åldern 1–6 år som flyttat till Lahtis och vars småbarnspedagogik inte "
        "började inom fyra månader efter flytten, per flyttmånad.",
        "en": "Children aged 1–6 who moved to Lahti and whose early childhood education did "
        "not start within four months of the move, by month of the move.",
    },
    asset="daycare_within_four_months",
    numerator="not_placed",
    denominator=None,
    unit=Unit.CHILDREN,
    target=Target(5.0, Direction.AT_MOST),
    owner="team:early-childhood-education",
    reads=DAYCARE_PLACE_WITHIN_FOUR_MONTHS.reads,
)

INDICATORS: dict[str, Indicator] = {
    indicator.id: indicator
    for indicator in (DAYCARE_PLACE_WITHIN_FOUR_MONTHS, CHILDREN_WITHOUT_PLACE)
}

GOALS: tuple[Goal, ...] = (
    define_goal(
        "daycare_for_families_moving_in",
        statement={
            "fi": "Jokaisella Lahteen muuttavalla lapsella on varhaiskasvatuspaikka neljän "
            "kuukauden kuluessa muutosta.",
            "sv": "Varje barn som flyttar till Lahtis har en plats i småbarnspedagogik inom "
            "fyra månader efter flytten.",
            "en": "Every child who moves to Lahti has a daycare place within four months.",
        },
        owner="team:early-childhood-education",
        indicators=(
            "daycare_place_within_four_months",
            "children_without_place_after_four_months",
        ),
        known=INDICATORS,
    ),
)


def all_goals() -> tuple[Goal, ...]:
    """Every goal, in the order leaders see them."""
    return GOALS


def all_indicators() -> tuple[Indicator, ...]:
    """Every indicator, in the order of the goals that name them."""
    return tuple(INDICATORS.values())


def get_indicator(indicator_id: str) -> Indicator:
    """The indicator with this id; ContractError lists the known ones otherwise."""
    try:
        return INDICATORS[indicator_id]
    except KeyError:
        raise ContractError(f"no indicator {indicator_id!r}; known: {sorted(INDICATORS)}") from None


def goal_of(indicator: Indicator) -> Goal | None:
    """The first goal that names an indicator."""
    return next((goal for goal in GOALS if indicator in goal.indicators), None)


def indicator_assets() -> tuple[str, ...]:
    """The assets that compute the indicators, each once."""
    return tuple(dict.fromkeys(indicator.asset for indicator in INDICATORS.values()))
