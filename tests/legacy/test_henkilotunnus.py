"""Henkilötunnus check characters and the allocator's uniqueness."""

from __future__ import annotations

import datetime as dt
import random

from orchestration.legacy.henkilotunnus import (
    HenkilotunnusAllocator,
    check_character,
    format_henkilotunnus,
    has_valid_check_character,
    with_wrong_check_character,
)

from .support import hetu_is_valid


def test_documented_example_has_its_check_character() -> None:
    assert check_character("131052", "308") == "T"
    assert format_henkilotunnus(dt.date(1952, 10, 13), 308, "-") == "131052-308T"
    assert hetu_is_valid("131052-308T")


def test_wrong_check_character_always_fails_the_checksum() -> None:
    rng = random.Random(1)
    for _ in range(500):
        code = format_henkilotunnus(dt.date(2019, 5, 17), rng.randint(2, 899), "A")
        wrong = with_wrong_check_character(code, rng)
        assert wrong[:10] == code[:10]
        assert not hetu_is_valid(wrong)
        assert not has_valid_check_character(wrong)


def test_allocator_hands_out_unique_valid_codes_with_matching_sex() -> None:
    allocator = HenkilotunnusAllocator(random.Random(2))
    codes = []
    for i in range(1200):  # more than 449 per sex on one date: spills to the next days
        male = i % 2 == 0
        code, born = allocator.allocate(dt.date(2020, 2, 29), male)
        assert born >= dt.date(2020, 2, 29)
        assert code[:6] == f"{born:%d%m%y}"
        assert int(code[7:10]) % 2 == (1 if male else 0)
        codes.append(code)
    assert len(set(codes)) == len(codes)
    assert all(hetu_is_valid(code) for code in codes)
