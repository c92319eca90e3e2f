"""Properties of the policy engine: withdrawing an agreement can only ever release less."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from broker.config import Agreement, DatasetInfo, FieldInfo, Purpose
from broker.config.agreement_checks import check_no_overlaps
from broker.errors import ConfigurationError
from broker.policy import AgreementIndex, Decision, ShareRequest, evaluate

PARTNERS = ("city", "county")
FIELDS = {
    "person_id": FieldInfo("personal", "direct"),
    "birth_date": FieldInfo("personal", "quasi"),
    "postal_code": FieldInfo("personal", "quasi"),
    "move_in_date": FieldInfo("personal", "none"),
    "unit_code": FieldInfo("public", "none"),
}
DATASETS = {
    "register": DatasetInfo("register", "1.0.0", ("collect",), "law_a", FIELDS),
    "placements": DatasetInfo("placements", "1.0.0", ("compatible", "unrelated"), "law_b", FIELDS),
}
PURPOSES = {
    "collect": Purpose(id="collect", description="collection", legal_bases=("law_a",)),
    "compatible": Purpose(
        id="compatible",
        description="compatible reuse",
        legal_bases=("law_a", "law_b"),
        compatible_with=("collect",),
    ),
    "unrelated": Purpose(id="unrelated", description="unrelated", legal_bases=("law_b",)),
}
TRANSFORMS = ("drop", "keep", "pseudonymise", "generalise:year", "generalise:month")
START = date(2025, 1, 1)

field_subsets = st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=5, unique=True)


@st.composite
def agreements(draw: st.DrawFn, number: int) -> Agreement:
    """One agreement whose legal basis every one of its purposes allows (as the loader checks)."""
    fields = draw(field_subsets)
    basis = draw(st.sampled_from(("law_a", "law_b")))
    allowing = sorted(p.id for p in PURPOSES.values() if basis in p.legal_bases)
    valid_from = START + timedelta(days=draw(st.integers(0, 700)))
    lasts = draw(st.none() | st.integers(0, 400))
    data: dict[str, Any] = {
        "id": f"agreement-{number}",
        "version": "1.0.0",
        "partner": draw(st.sampled_from(PARTNERS)),
        "dataset": draw(st.sampled_from(sorted(DATASETS))),
        "purposes": draw(st.lists(st.sampled_from(allowing), min_size=1, unique=True)),
        "legal_basis": basis,
        "fields": fields,
        "transforms": draw(st.dictionaries(st.sampled_from(fields), st.sampled_from(TRANSFORMS))),
        "keep_direct_identifiers": draw(st.booleans()),
        "valid_from": valid_from,
        "valid_until": None if lasts is None else valid_from + timedelta(days=lasts),
    }
    return Agreement.model_validate(data)


@st.composite
def agreement_sets(draw: st.DrawFn) -> list[Agreement]:
    """Agreements as the loader would accept them: none overlapping another for one request."""
    accepted: list[Agreement] = []
    for number in range(draw(st.integers(1, 8))):
        candidate = draw(agreements(number))
        proposal = [*accepted, candidate]
        try:
            check_no_overlaps(proposal, {a.id: Path(f"{a.id}.yaml") for a in proposal})
        except ConfigurationError:
            continue
        accepted = proposal
    return accepted


requested_fields = st.none() | st.lists(st.sampled_from([*FIELDS, "not_a_field"]), max_size=6).map(
    tuple
)
filters = st.sampled_from([{}, {}, {}, {"unit_code": "U1"}])
random_requests = st.builds(
    ShareRequest,
    partner=st.sampled_from(PARTNERS),
    dataset=st.sampled_from(sorted(DATASETS)),
    purpose=st.sampled_from(sorted(PURPOSES)),
    legal_basis=st.sampled_from(("law_a", "law_b")),
    fields=requested_fields,
    filters=filters,
)


def _moment(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Agreement], ShareRequest, datetime]:
    """Agreements plus a request that, most of the time, aims at one of them while in force."""
    agreement_list = draw(agreement_sets())
    if not draw(st.integers(0, 3)):
        return (
            agreement_list,
            draw(random_requests),
            _moment(START + timedelta(draw(st.integers(0, 1200)))),
        )
    target = draw(st.sampled_from(agreement_list))
    request = ShareRequest(
        partner=target.partner,
        dataset=target.dataset,
        purpose=draw(st.sampled_from(target.purposes)),
        legal_basis=target.legal_basis,
        fields=draw(requested_fields),
        filters=draw(filters),
    )
    end = target.valid_until or target.valid_from + timedelta(days=500)
    day = target.valid_from + timedelta(days=draw(st.integers(0, (end - target.valid_from).days)))
    return agreement_list, request, _moment(day)


def _decide(agreement_list: list[Agreement], request: ShareRequest, now: datetime) -> Decision:
    return evaluate(request, AgreementIndex.build(agreement_list), PURPOSES, DATASETS, now)


def _released(decision: Decision) -> set[str]:
    return set(decision.obligations.fields_released) if decision.obligations else set()


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios())
def test_removing_an_agreement_never_releases_more(
    scenario: tuple[list[Agreement], ShareRequest, datetime],
) -> None:
    agreement_list, request, now = scenario
    before = _decide(agreement_list, request, now)
    event("permit" if before.allowed else f"deny: {before.reason_code}")
    for removed in range(len(agreement_list)):
        remaining = agreement_list[:removed] + agreement_list[removed + 1 :]
        after = _decide(remaining, request, now)
        if after.allowed:
            assert before.allowed, "removing an agreement turned a deny into a permit"
        assert _released(after) <= _released(before)


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios())
def test_every_decision_is_explained(
    scenario: tuple[list[Agreement], ShareRequest, datetime],
) -> None:
    agreement_list, request, now = scenario
    decision = _decide(agreement_list, request, now)
    if decision.allowed:
        assert decision.obligations is not None and decision.obligations.fields_released
        released = set(decision.obligations.fields_released)
        assert released <= set(FIELDS)
        assert not released & {w.field for w in decision.obligations.withheld}
    else:
        assert decision.reason_code in {
            "no_agreement",
            "purpose_not_permitted",
            "legal_basis_mismatch",
            "agreement_not_in_force",
            "purpose_incompatible",
            "fields_not_permitted",
            "filter_not_permitted",
        }


@st.composite
def overlapping_agreement_sets(draw: st.DrawFn) -> list[Agreement]:
    """Agreements without the loader's overlap rule, to stress the index against a scan."""
    return [draw(agreements(number)) for number in range(draw(st.integers(1, 10)))]


@settings(max_examples=100, deadline=None)
@given(
    agreement_list=overlapping_agreement_sets(), request=random_requests, day=st.integers(0, 1200)
)
def test_index_finds_exactly_what_a_full_scan_finds(
    agreement_list: list[Agreement], request: ShareRequest, day: int
) -> None:
    now = _moment(START + timedelta(days=day))
    expected = [
        (a.id, a.version)
        for a in sorted(agreement_list, key=lambda a: (-a.valid_from.toordinal(), a.id))
        if a.partner == request.partner
        and a.dataset == request.dataset
        and request.purpose in a.purposes
        and a.legal_basis == request.legal_basis
        and a.in_force(now.date())
    ]
    decision = _decide(agreement_list, request, now)
    if decision.allowed:
        assert list(decision.matched_agreements) == expected
    elif expected:
        # Something matched, so the denial came from a rule that overrides permits.
        assert decision.reason_code in {
            "legal_basis_mismatch",
            "purpose_incompatible",
            "fields_not_permitted",
            "filter_not_permitted",
        }
    else:
        assert decision.matched_agreements == ()
