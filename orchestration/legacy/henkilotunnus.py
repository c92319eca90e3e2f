"""Finnish personal identity codes (henkilötunnus): check characters and unique allocation."""

from __future__ import annotations

import random
from datetime import date, timedelta

from contracts.checks import HETU_CHECK_CHARS as CHECK_CHARACTERS
from contracts.checks import henkilotunnus_check_char

_SLOTS = 449  # individual numbers 002..899 give 449 per sex; 449 is prime


def check_character(ddmmyy: str, individual: str) -> str:
    """Return the check character for the date part DDMMYY and individual number ZZZ."""
    return henkilotunnus_check_char(ddmmyy + individual)


def format_henkilotunnus(birth_date: date, individual: int, century_sign: str) -> str:
    """Build a henkilötunnus with a correct check character."""
    ddmmyy = f"{birth_date.day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}"
    zzz = f"{individual:03d}"
    return f"{ddmmyy}{century_sign}{zzz}{check_character(ddmmyy, zzz)}"


def has_valid_check_character(code: str) -> bool:
    """Tell whether an 11-character code's check character matches its digits."""
    if len(code) != 11 or not (code[:6] + code[7:10]).isdigit():
        return False
    return check_character(code[:6], code[7:10]) == code[10]


def with_wrong_check_character(code: str, rng: random.Random) -> str:
    """Return the code with its check character replaced by a different, wrong one."""
    wrong = rng.choice([c for c in CHECK_CHARACTERS if c != code[10]])
    return code[:10] + wrong


class HenkilotunnusAllocator:
    """Hands out henkilötunnus codes that are unique across everything one generator run makes.

    Each (birth date, sex) has 449 individual numbers; they are visited in a date-specific
    pseudo-random order so numbers look spread out, and a full date spills to the next day.
    Memory is bounded by the number of distinct birth dates, not by the number of people.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: dict[int, int] = {}

    def allocate(self, birth_date: date, male: bool) -> tuple[str, date]:
        """Return a fresh code and the birth date it encodes (moved on a day if one was full)."""
        day = birth_date
        while True:
            key = day.toordinal() * 2 + int(male)
            count = self._used.get(key, 0)
            if count < _SLOTS:
                self._used[key] = count + 1
                return format_henkilotunnus(
                    day, self._individual(day, count, male), self._sign(day)
                ), day
            day += timedelta(days=1)

    def _individual(self, day: date, count: int, male: bool) -> int:
        ordinal = day.toordinal()
        base, step = (ordinal * 7919) % _SLOTS, 1 + (ordinal * 104_729) % (_SLOTS - 1)
        return 2 + 2 * ((base + count * step) % _SLOTS) + int(male)

    def _sign(self, day: date) -> str:
        # A small share gets the century signs in use since 2023, as real extracts do.
        newer = self._rng.random() < 0.01
        if day.year >= 2000:
            return "B" if newer else "A"
        return "Y" if newer else "-"
