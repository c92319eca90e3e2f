"""Agreements indexed so a decision costs O(log n) however many agreements are loaded."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from broker.config.models import Agreement
from broker.policy.model import AgreementRef

_OPEN_ENDED = date.max.toordinal()


@dataclass(frozen=True, slots=True)
class IndexedAgreement:
    """An agreement with the sets the engine tests membership in, computed once."""

    agreement: Agreement
    ref: AgreementRef
    purposes: frozenset[str]
    fields: frozenset[str]
    ends: int  # ordinal of valid_until, or of date.max when open-ended


def _preference(entry: IndexedAgreement) -> tuple[int, str]:
    # Most recent valid_from first, then id, so the choice among matches is deterministic.
    return (-entry.agreement.valid_from.toordinal(), entry.agreement.id)


class ValidityWindows:
    """Agreements sharing partner, dataset, purpose and legal basis, searchable by day."""

    __slots__ = ("entries", "_starts", "_latest_end")

    def __init__(self, entries: Iterable[IndexedAgreement]) -> None:
        self.entries = tuple(sorted(entries, key=_preference))
        # Negated start days ascend in preference order, which is what bisect needs.
        self._starts = [-entry.agreement.valid_from.toordinal() for entry in self.entries]
        latest, latest_end = 0, []
        for entry in reversed(self.entries):
            latest = max(latest, entry.ends)
            latest_end.append(latest)
        self._latest_end = latest_end[::-1]

    def in_force(self, day: date) -> list[IndexedAgreement]:
        """Entries valid on `day`, most preferred first."""
        ordinal = day.toordinal()
        position = bisect_left(self._starts, -ordinal)
        found = []
        # Stop as soon as no later entry can still be in force: successive versions of an
        # agreement therefore cost a binary search, not a scan of the history.
        while position < len(self.entries) and self._latest_end[position] >= ordinal:
            entry = self.entries[position]
            if entry.ends >= ordinal:
                found.append(entry)
            position += 1
        return found


class AgreementIndex:
    """Immutable lookup of agreements by partner, dataset, purpose and legal basis."""

    __slots__ = ("_windows", "_first_with_purpose", "_by_pair", "_by_partner", "_size")

    def __init__(self, entries: Iterable[IndexedAgreement]) -> None:
        by_pair: dict[tuple[str, str], list[IndexedAgreement]] = {}
        for entry in entries:
            by_pair.setdefault((entry.agreement.partner, entry.agreement.dataset), []).append(entry)
        self._by_pair = {
            key: tuple(sorted(group, key=_preference)) for key, group in by_pair.items()
        }
        grouped: dict[tuple[str, str, str, str], list[IndexedAgreement]] = {}
        self._first_with_purpose: dict[tuple[str, str, str], IndexedAgreement] = {}
        by_partner: dict[str, list[Agreement]] = {}
        for (partner, dataset), group in self._by_pair.items():
            by_partner.setdefault(partner, []).extend(entry.agreement for entry in group)
            for entry in group:
                for purpose in entry.agreement.purposes:
                    key = (partner, dataset, purpose, entry.agreement.legal_basis)
                    grouped.setdefault(key, []).append(entry)
                    self._first_with_purpose.setdefault((partner, dataset, purpose), entry)
        self._windows = {key: ValidityWindows(group) for key, group in grouped.items()}
        self._by_partner = {partner: tuple(group) for partner, group in by_partner.items()}
        self._size = sum(len(group) for group in self._by_pair.values())

    @classmethod
    def build(cls, agreements: Iterable[Agreement]) -> AgreementIndex:
        """Index agreements; duplicate ids are refused because decisions record ids."""
        seen: set[str] = set()
        entries = []
        for agreement in agreements:
            if agreement.id in seen:
                raise ValueError(f"duplicate agreement id {agreement.id!r}")
            seen.add(agreement.id)
            until = agreement.valid_until
            entries.append(
                IndexedAgreement(
                    agreement=agreement,
                    ref=AgreementRef(agreement.id, agreement.version),
                    purposes=frozenset(agreement.purposes),
                    fields=frozenset(agreement.fields),
                    ends=until.toordinal() if until is not None else _OPEN_ENDED,
                )
            )
        return cls(entries)

    def windows(
        self, partner: str, dataset: str, purpose: str, legal_basis: str
    ) -> ValidityWindows | None:
        """Agreements that would permit exactly this request on some day, if any."""
        return self._windows.get((partner, dataset, purpose, legal_basis))

    def first_with_purpose(
        self, partner: str, dataset: str, purpose: str
    ) -> IndexedAgreement | None:
        """The most preferred agreement of the partner covering this dataset and purpose."""
        return self._first_with_purpose.get((partner, dataset, purpose))

    def candidates(self, partner: str, dataset: str) -> tuple[IndexedAgreement, ...]:
        """Agreements of this partner for this dataset, most preferred first."""
        return self._by_pair.get((partner, dataset), ())

    def for_partner(self, partner: str) -> tuple[Agreement, ...]:
        """All agreements of one partner (for its catalog and agreements listing)."""
        return self._by_partner.get(partner, ())

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Agreement]:
        for group in self._by_pair.values():
            for entry in group:
                yield entry.agreement
