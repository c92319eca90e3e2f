"""apply_transforms releases exactly the fields an agreement lists, transformed as it says."""

from __future__ import annotations

from datetime import date

import pytest

from broker.privacy import Columns, Pseudonymiser, apply_transforms, derive_partner_key

ROWS: Columns = {
    "person_id": ["010115A902D", "020216B9045"],
    "last_name": ["Virtanen", "Korhonen"],
    "birth_date": ["2015-01-01", "2016-02-02"],
    "postal_code": ["15100", "15500"],
    "move_in_date": ["2026-01-15", "2026-02-20"],
}
PSEUDONYMISER = Pseudonymiser(derive_partner_key(bytes(32), "lahti-analytics", "knowledge"))


def release(transforms: dict[str, str]) -> Columns:
    return apply_transforms(ROWS, transforms, pseudonymiser=PSEUDONYMISER, as_of=date(2026, 3, 2))


def test_each_transform_and_the_given_order() -> None:
    released = release(
        {
            "move_in_date": "generalise:month",
            "person_id": "pseudonymise",
            "last_name": "drop",
            "birth_date": "generalise:age_band",
            "postal_code": "generalise:district",
        }
    )
    assert list(released) == ["move_in_date", "person_id", "birth_date", "postal_code"]
    assert released["move_in_date"] == ["2026-01", "2026-02"]
    assert released["person_id"] == PSEUDONYMISER.pseudonymise(ROWS["person_id"])
    assert released["birth_date"] == ["7-12", "7-12"]
    assert released["postal_code"] == ["Keskusta", "Nastola"]


def test_only_listed_fields_leave() -> None:
    released = release({"postal_code": "keep"})
    assert released == {"postal_code": ["15100", "15500"]}
    assert release({"last_name": "drop"}) == {}


def test_refusals() -> None:
    with pytest.raises(ValueError, match="unknown transform 'encrypt'"):
        release({"person_id": "encrypt"})
    with pytest.raises(ValueError, match="not in the rows: income"):
        release({"income": "keep"})
    with pytest.raises(ValueError, match="no key"):
        apply_transforms(ROWS, {"person_id": "pseudonymise"}, pseudonymiser=None, as_of=None)
