"""Audit entries refuse malformed values; digests and subject kinds are derived consistently."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.audit import request_digest, subject_kind_for
from broker.audit.records import canonical_json, record_bytes
from tests.broker.audit.helpers import make_entry

# Any Unicode text: every code point but the surrogates (which are no text), control
# characters, quotes and backslashes included.
TEXT = st.text(st.characters(exclude_categories=["Cs"]))
RECORD_VALUES = st.one_of(
    st.none(),
    TEXT,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.lists(TEXT, max_size=5),
)


def test_entries_refuse_malformed_values() -> None:
    with pytest.raises(ValueError, match="decision"):
        make_entry(0, decision="maybe")
    with pytest.raises(ValueError, match="subject_kind"):
        make_entry(0, subject_kind="agency")
    with pytest.raises(ValueError, match="row_count"):
        make_entry(0, row_count=-1)
    with pytest.raises(ValueError, match="request_digest"):
        make_entry(0, request_digest="not-a-digest")


def test_entries_are_immutable_whatever_sequence_they_were_given() -> None:
    entry = make_entry(0, reasons=["permitted"])
    assert entry.reasons == ("permitted",)


def test_request_digest_ignores_key_order() -> None:
    first = {"dataset": "persons", "purpose": "school_enrolment", "fields": ["district"]}
    second = {"fields": ["district"], "purpose": "school_enrolment", "dataset": "persons"}
    assert request_digest(first) == request_digest(second)
    assert request_digest(first) != request_digest({**first, "fields": ["postal_code"]})


@given(st.dictionaries(TEXT, RECORD_VALUES, max_size=25))
def test_record_bytes_are_the_documented_canonical_json(document: dict[str, Any]) -> None:
    # The module doc promises auditors they can recompute every hash with json.dumps.
    expected = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert record_bytes(document) == expected.encode("utf-8") == canonical_json(document)


@pytest.mark.parametrize("value", ["jti-\ud800", 2**64])
def test_a_record_value_without_a_canonical_form_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="canonical"):
        record_bytes({"jti": value})


@pytest.mark.parametrize(
    ("partner_kind", "subject_kind"),
    [
        ("agency", "partner"),
        ("statistics", "partner"),
        ("citizen_portal", "citizen"),
        ("operator", "operator"),
    ],
)
def test_subject_kind_of_each_partner_kind(partner_kind: str, subject_kind: str) -> None:
    assert subject_kind_for(partner_kind) == subject_kind


def test_an_unknown_partner_kind_has_no_subject_kind() -> None:
    with pytest.raises(ValueError, match="'robot'"):
        subject_kind_for("robot")
