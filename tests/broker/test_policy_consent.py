"""Consent agreements in the pure engine: a decision table over consent states, and properties."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.policy import ShareRequest
from broker.policy.consent import ConsentRecord, consent_verdict
from broker.policy.model import CONSENT_EXPIRED, CONSENT_MISSING, CONSENT_REVOKED
from tests.broker.conftest import DemoEnvironment
from tests.broker.policy_cases import EDU, NOW, decide

CONSENT = "consent"
PURPOSE = "school_start_support"
FIELDS = ("child_id", "unit_name", "start_date", "end_date", "hours_per_week", "status")
REQUEST = ShareRequest(EDU, "ece_placements", PURPOSE, CONSENT)
EARLIER = NOW - timedelta(days=30)


def consent(
    subject: str = "a",
    *,
    fields: tuple[str, ...] = FIELDS,
    valid_until: date = date(2027, 7, 31),
    revoked_at: datetime | None = None,
    granted_at: datetime = EARLIER,
    partner: str = EDU,
    purpose: str = PURPOSE,
) -> ConsentRecord:
    return ConsentRecord(
        subject_key=subject,
        partner=partner,
        dataset="ece_placements",
        purpose=purpose,
        fields=frozenset(fields),
        granted_at=granted_at,
        valid_until=valid_until,
        revoked_at=revoked_at,
    )


YESTERDAY = NOW.date() - timedelta(days=1)
# case, consents, allowed, deciding reason code, subjects released
TABLE = [
    ("no consent at all", [], False, CONSENT_MISSING, None),
    ("a valid consent", [consent()], True, None, {"a"}),
    ("valid through today", [consent(valid_until=NOW.date())], True, None, {"a"}),
    ("expired yesterday", [consent(valid_until=YESTERDAY)], False, CONSENT_EXPIRED, None),
    ("revoked", [consent(revoked_at=NOW - timedelta(minutes=1))], False, CONSENT_REVOKED, None),
    ("revoked later than now", [consent(revoked_at=NOW + timedelta(days=1))], True, None, {"a"}),
    ("fewer fields than released", [consent(fields=FIELDS[:2])], False, CONSENT_MISSING, None),
    ("another partner", [consent(partner="kela")], False, CONSENT_MISSING, None),
    ("another purpose", [consent(purpose="ece_placement")], False, CONSENT_MISSING, None),
    (
        "granted again after revoking",
        [consent(revoked_at=EARLIER + timedelta(days=1)), consent(granted_at=NOW)],
        True,
        None,
        {"a"},
    ),
    (
        "newest is revoked, older expired",
        [
            consent(valid_until=YESTERDAY, granted_at=EARLIER),
            consent(revoked_at=NOW - timedelta(hours=1), granted_at=EARLIER + timedelta(days=2)),
        ],
        False,
        CONSENT_REVOKED,
        None,
    ),
    (
        "only the consenting person",
        [consent("a"), consent("b", revoked_at=EARLIER + timedelta(days=1))],
        True,
        None,
        {"a"},
    ),
]


@pytest.mark.parametrize(
    ("consents", "allowed", "code", "subjects"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_consent_decision_table(
    demo: DemoEnvironment,
    consents: list[ConsentRecord],
    allowed: bool,
    code: str | None,
    subjects: set[str] | None,
) -> None:
    decision = decide(demo, REQUEST, consents=consents)
    assert decision.allowed is allowed
    assert decision.reason_code == code
    if allowed:
        assert decision.obligations is not None
        assert decision.obligations.consenting_subjects == frozenset(subjects or ())
        assert decision.agreement is not None
        assert decision.agreement.id == "lahti-education-school-start-consent"


def test_a_narrower_request_is_covered_by_a_consent_to_those_fields(
    demo: DemoEnvironment,
) -> None:
    narrow = ShareRequest(EDU, "ece_placements", PURPOSE, CONSENT, fields=("child_id", "status"))
    decision = decide(demo, narrow, consents=[consent(fields=("child_id", "status"))])
    assert decision.allowed
    assert decision.obligations is not None
    assert decision.obligations.fields_released == ("child_id", "status")


def test_consents_never_widen_a_statutory_agreement(demo: DemoEnvironment) -> None:
    statutory = ShareRequest(EDU, "persons", "ece_placement", "ece_act_540_2018")
    decision = decide(demo, statutory, consents=[consent()])
    assert decision.allowed
    assert decision.obligations is not None
    assert decision.obligations.consenting_subjects is None


def test_consent_does_not_override_an_explicit_denial(demo: DemoEnvironment) -> None:
    # Another legal basis for the consent purpose is refused whatever anybody consented to.
    wrong_basis = ShareRequest(EDU, "ece_placements", PURPOSE, "ece_act_540_2018")
    decision = decide(demo, wrong_basis, consents=[consent()])
    assert not decision.allowed
    assert decision.reason_code == "legal_basis_mismatch"


def test_objections_still_apply_under_consent(demo: DemoEnvironment) -> None:
    decision = decide(demo, REQUEST, consents=[consent("a"), consent("b")], restrictions={"b"})
    assert decision.obligations is not None
    assert decision.obligations.admits("a")
    assert not decision.obligations.admits("b")
    assert not decision.obligations.admits(None)


_states = st.sampled_from(["valid", "revoked", "expired"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdef"), _states, st.integers(0, 20)), max_size=12))
def test_exactly_the_people_with_a_valid_consent_are_released(
    specs: list[tuple[str, str, int]],
) -> None:
    records = [
        consent(
            subject,
            granted_at=EARLIER + timedelta(hours=hours),
            valid_until=YESTERDAY if state == "expired" else NOW.date(),
            revoked_at=EARLIER + timedelta(days=2) if state == "revoked" else None,
        )
        for subject, state, hours in specs
    ]
    verdict = consent_verdict(
        records, partner=EDU, dataset="ece_placements", purpose=PURPOSE, fields=FIELDS, now=NOW
    )
    valid = {subject for subject, state, _ in specs if state == "valid"}
    assert verdict.subjects == valid
    assert (verdict.denial is None) == bool(valid)
    if not specs:
        assert verdict.denial is not None and verdict.denial.code == CONSENT_MISSING


def test_subject_access_is_denied_by_default_and_names_withheld_fields(
    demo: DemoEnvironment,
) -> None:
    from broker.policy.subject_access import NOT_EXPORTABLE, evaluate_subject_access

    config = demo.config
    assert evaluate_subject_access("persons", config.datasets, None).reason_code == NOT_EXPORTABLE
    households = evaluate_subject_access("households", config.datasets, config.subject_access)
    assert households.reason_code == NOT_EXPORTABLE
    unknown = evaluate_subject_access("nope", config.datasets, config.subject_access)
    assert unknown.reason_code == "unknown_dataset"
    cases = evaluate_subject_access("family_service_cases", config.datasets, config.subject_access)
    assert cases.allowed and cases.obligations is not None
    assert [(w.field, w.reason) for w in cases.obligations.withheld] == [
        ("case_type", "withheld_by_law")
    ]
    assert "case_type" not in cases.obligations.fields_released
    assert "client_id" in cases.obligations.fields_released
