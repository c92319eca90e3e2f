"""Pseudonyms are stable per partner and purpose, unlinkable across them, and keep gaps."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.privacy import Pseudonymiser, derive_partner_key

MASTER = bytes(range(32))
ANALYTICS, EDUCATION = "lahti-analytics", "lahti-education"
KNOWLEDGE, STATISTICS = "knowledge_management", "official_statistics"
CODES = ["010115A902D", "020216B9045", "010115A902D"]


def pseudonyms(partner: str, purpose: str, values: list[str] = CODES) -> list[str | None]:
    return Pseudonymiser(derive_partner_key(MASTER, partner, purpose)).pseudonymise(values)


def test_stable_for_the_same_partner_and_purpose() -> None:
    first, again = pseudonyms(ANALYTICS, KNOWLEDGE), pseudonyms(ANALYTICS, KNOWLEDGE)
    assert first == again
    assert first[0] == first[2], "the same person gets the same pseudonym within a share"
    assert first[0] != first[1]


def test_different_across_partners_and_purposes() -> None:
    base = set(pseudonyms(ANALYTICS, KNOWLEDGE))
    assert base.isdisjoint(pseudonyms(EDUCATION, KNOWLEDGE))
    assert base.isdisjoint(pseudonyms(ANALYTICS, STATISTICS))


def test_partner_and_purpose_cannot_be_shifted_into_each_other() -> None:
    assert derive_partner_key(MASTER, "ab", "c") != derive_partner_key(MASTER, "a", "bc")


def test_a_pseudonym_is_the_hmac_sha256_of_the_value() -> None:
    key = derive_partner_key(MASTER, ANALYTICS, KNOWLEDGE)
    expected = hmac.new(key, CODES[0].encode(), hashlib.sha256).hexdigest()
    assert pseudonyms(ANALYTICS, KNOWLEDGE)[0] == expected
    assert Pseudonymiser(key).pseudonym(CODES[0]) == expected


def test_missing_stays_missing() -> None:
    values = ["010115A902D", None, float("nan"), "010115A902D"]
    result = Pseudonymiser(derive_partner_key(MASTER, ANALYTICS, KNOWLEDGE)).pseudonymise(values)
    assert [value is None for value in result] == [False, True, True, False]
    assert result[0] == result[3] and len(result[0] or "") == 64


def test_non_text_and_weak_keys_are_refused() -> None:
    pseudonymiser = Pseudonymiser(derive_partner_key(MASTER, ANALYTICS, KNOWLEDGE))
    with pytest.raises(TypeError, match="only text"):
        pseudonymiser.pseudonymise([1, 2])
    with pytest.raises(ValueError, match="32 bytes"):
        Pseudonymiser(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        derive_partner_key(b"short", ANALYTICS, KNOWLEDGE)
    assert "key hidden" in repr(pseudonymiser)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=20), min_size=1, max_size=200, unique=True))
def test_distinct_inputs_never_share_a_pseudonym(values: list[str]) -> None:
    result = pseudonyms(ANALYTICS, KNOWLEDGE, values)
    assert len(set(result)) == len(values)
