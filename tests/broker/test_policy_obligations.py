"""Obligations of permits, and engine behaviour the validated demo configuration cannot show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from broker.config import Agreement
from broker.policy import AgreementIndex, Decision, ShareRequest, Withheld, evaluate
from tests.broker.conftest import DemoEnvironment
from tests.broker.policy_cases import (
    ANALYTICS,
    BASIC_ED,
    ECE_ACT,
    EDU,
    INFO_MGMT,
    NOW,
    PHHYKY,
    decide,
)


def test_partial_permit_withholds_fields_outside_the_agreement(demo: DemoEnvironment) -> None:
    request = ShareRequest(
        EDU, "persons", "school_enrolment", BASIC_ED, ("person_id", "dwelling_id", "person_id")
    )
    obligations = decide(demo, request).obligations
    assert obligations is not None
    assert obligations.fields_released == ("person_id",)
    assert obligations.withheld == (Withheld("dwelling_id", "field_not_in_agreement"),)
    assert obligations.transforms == {"person_id": "keep"}
    assert obligations.row_scope == {"municipality_code": "398"}
    assert obligations.max_rows == 20000


def test_no_fields_requested_means_all_agreement_fields(demo: DemoEnvironment) -> None:
    decision = decide(demo, ShareRequest("kela", "ece_placements", "daycare_fee_decision", ECE_ACT))
    assert decision.obligations is not None
    assert decision.obligations.fields_released == (
        "child_id",
        "unit_code",
        "start_date",
        "end_date",
        "hours_per_week",
        "monthly_fee_eur",
        "status",
    )
    assert decision.matched_agreements == (("kela-daycare-fee-decision", "2.0.0"),)


def test_analytics_gets_pseudonyms_and_generalised_values(demo: DemoEnvironment) -> None:
    request = ShareRequest(ANALYTICS, "persons", "knowledge_management", INFO_MGMT)
    obligations = decide(demo, request).obligations
    assert obligations is not None
    assert obligations.transforms == {
        "person_id": "pseudonymise",
        "birth_date": "generalise:age_band",
        "sex": "keep",
        "postal_code": "generalise:district",
        "move_in_date": "generalise:month",
        "previous_municipality_code": "keep",
    }


def test_statistics_receive_aggregates_only(demo: DemoEnvironment) -> None:
    request = ShareRequest(
        "statistics-finland", "households", "official_statistics", "statistics_act_280_2004"
    )
    obligations = decide(demo, request).obligations
    assert obligations is not None
    assert obligations.aggregate_only and obligations.min_cell_size == 5
    assert obligations.transforms["moved_in_date"] == "generalise:month"


def test_child_welfare_disclosures_are_hidden_for_a_while(demo: DemoEnvironment) -> None:
    request = ShareRequest(
        PHHYKY, "persons", "child_welfare_follow_up", "child_welfare_act_417_2007"
    )
    obligations = decide(demo, request).obligations
    assert obligations is not None and obligations.hidden_until_days == 90


def test_objections_exclude_subjects_only_from_non_mandatory_purposes(
    demo: DemoEnvironment,
) -> None:
    objecting = frozenset({"subject-hmac-1", "subject-hmac-2"})
    analytics = decide(
        demo,
        ShareRequest(ANALYTICS, "persons", "knowledge_management", INFO_MGMT),
        restrictions=objecting,
    ).obligations
    enrolment = decide(
        demo, ShareRequest(EDU, "persons", "school_enrolment", BASIC_ED), restrictions=objecting
    ).obligations
    assert analytics is not None and enrolment is not None
    assert analytics.exclude_objecting_subjects and analytics.excluded_subjects == objecting
    assert not enrolment.exclude_objecting_subjects and not enrolment.excluded_subjects


def test_deny_reason_names_the_agreement_that_came_closest(demo: DemoEnvironment) -> None:
    decision = decide(demo, ShareRequest("asikkala", "ece_placements", "ece_placement", ECE_ACT))
    assert decision.reasons[0].code == "agreement_not_in_force"
    assert "asikkala-ece-pilot-2024" in decision.reasons[0].detail
    assert "2025-07-31" in decision.reasons[0].detail


def test_explicit_denial_overrides_a_missing_permit_reason(demo: DemoEnvironment) -> None:
    decision = decide(demo, ShareRequest("kela", "persons", "daycare_fee_decision", ECE_ACT))
    assert [r.code for r in decision.reasons] == ["purpose_incompatible", "no_agreement"]


def test_naive_time_is_refused(demo: DemoEnvironment) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(
            demo, ShareRequest(EDU, "persons", "school_enrolment", BASIC_ED), datetime(2026, 1, 1)
        )


# Synthetic agreements exercise cases the (validated) demo configuration cannot contain.


def _agreement(**overrides: Any) -> Agreement:
    base: dict[str, Any] = {
        "id": "synthetic",
        "version": "1.0.0",
        "partner": EDU,
        "dataset": "persons",
        "purposes": ["school_enrolment"],
        "legal_basis": BASIC_ED,
        "fields": ["person_id", "last_name", "birth_date", "sex"],
        "valid_from": "2025-01-01",
    }
    return Agreement.model_validate(base | overrides)


def _decide_with(
    demo: DemoEnvironment, agreements: list[Agreement], fields: tuple[str, ...] | None = None
) -> Decision:
    index = AgreementIndex.build(agreements)
    request = ShareRequest(EDU, "persons", "school_enrolment", BASIC_ED, fields)
    return evaluate(request, index, demo.config.purposes, demo.config.datasets, NOW)


@pytest.mark.parametrize(
    ("transforms", "keep_direct", "released", "withheld"),
    [
        pytest.param(
            {}, False, ("birth_date", "sex"), ("person_id", "last_name"), id="default drop"
        ),
        pytest.param({}, True, ("birth_date", "sex"), ("person_id", "last_name"), id="flag alone"),
        pytest.param(
            {"person_id": "keep"},
            False,
            ("birth_date", "sex"),
            ("person_id", "last_name"),
            id="keep without flag",
        ),
        pytest.param(
            {"person_id": "keep"},
            True,
            ("person_id", "birth_date", "sex"),
            ("last_name",),
            id="keep with flag",
        ),
        pytest.param(
            {"person_id": "pseudonymise"},
            False,
            ("person_id", "birth_date", "sex"),
            ("last_name",),
            id="pseudonymised",
        ),
    ],
)
def test_direct_identifiers_leave_only_when_explicitly_kept(
    demo: DemoEnvironment,
    transforms: dict[str, str],
    keep_direct: bool,
    released: tuple[str, ...],
    withheld: tuple[str, ...],
) -> None:
    agreement = _agreement(transforms=transforms, keep_direct_identifiers=keep_direct)
    obligations = _decide_with(demo, [agreement]).obligations
    assert obligations is not None
    assert obligations.fields_released == released
    assert obligations.withheld == tuple(Withheld(f, "direct_identifier") for f in withheld)


def test_only_direct_identifiers_requested_is_denied(demo: DemoEnvironment) -> None:
    decision = _decide_with(demo, [_agreement()], fields=("person_id", "last_name"))
    assert decision.reason_code == "fields_not_permitted"


def test_a_dropped_field_is_withheld_with_its_reason(demo: DemoEnvironment) -> None:
    decision = _decide_with(
        demo, [_agreement(transforms={"sex": "drop"})], fields=("sex", "birth_date")
    )
    assert decision.obligations is not None
    assert decision.obligations.withheld == (Withheld("sex", "dropped_by_agreement"),)


def test_choice_among_matches_is_deterministic(demo: DemoEnvironment) -> None:
    older = _agreement(id="b-older", valid_from="2025-01-01")
    newer = _agreement(id="c-newer", valid_from="2026-01-01", fields=["sex"])
    tie = _agreement(id="a-tie", valid_from="2026-01-01", fields=["birth_date"])
    for order in ([older, newer, tie], [tie, older, newer], [newer, tie, older]):
        decision = _decide_with(demo, order)
        assert [ref.id for ref in decision.matched_agreements] == ["a-tie", "c-newer", "b-older"]
        assert decision.obligations is not None
        assert decision.obligations.fields_released == ("birth_date",)


def test_index_refuses_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="duplicate agreement id"):
        AgreementIndex.build([_agreement(), _agreement()])


def test_index_lists_a_partners_agreements(
    demo: DemoEnvironment,
) -> None:
    index = AgreementIndex.build(demo.config.agreements)
    assert {a.id for a in index.for_partner("asikkala")} == {
        "asikkala-pupils-moving-away",
        "asikkala-ece-pilot-2024",
    }
    assert index.for_partner("tillit-operations") == ()
    assert len(index) == len(demo.config.agreements)
