"""School enrolment: an XML export of pupils' enrolments, UTF-8.

File `school_enrolment/ilmoittautumiset.xml`. Documented layout:

    <ilmoittautumiset poimittu="2025-01-01T02:00:00+00:00">
      <oppilas id="E000123">
        <hetu>pupil henkilötunnus</hetu>
        <koulu koodi="LHT031">Kivimaan koulu</koulu>
        <luokka>3</luokka>            grade, 0 = pre-primary, 1-9
        <alkupvm>2024-08-08</alkupvm>  start date YYYY-MM-DD
        <kieli>fi</kieli>              fi | sv
        <tuki>yleinen</tuki>           yleinen | tehostettu | erityinen
      </oppilas>
    </ilmoittautumiset>

The export writes one `oppilas` element per line.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from xml.sax.saxutils import escape, quoteattr

from orchestration.legacy import reference as ref
from orchestration.legacy.canonical import mojibake, occurrence_ref
from orchestration.legacy.defects import DUPLICATE, CleanRowPool, DefectInjector, impossible_date
from orchestration.legacy.henkilotunnus import with_wrong_check_character
from orchestration.legacy.services import Enrolment

SYSTEM = "school_enrolment"
ROOT = "ilmoittautumiset"
RECORD = "oppilas"
CHILD_ELEMENTS = ("hetu", "koulu", "luokka", "alkupvm", "kieli", "tuki")
DEFECT_CHECKS = (
    "henkilotunnus", "valid_date", "unique_key", "no_mojibake", "not_nullable", "references",
)  # fmt: skip
SUPPORT_LABELS = {"yleinen": "general", "tehostettu": "intensified", "erityinen": "special"}
CANONICAL_COLUMNS = (
    "enrolment_id", "pupil_id", "school_code", "school_name", "grade", "start_date", "language",
    "support_level",
)  # fmt: skip
_NON_ASCII_SCHOOLS = tuple(s for s in ref.FINNISH_SCHOOLS if not s[1].isascii())


def source_ref(enrolment_id: str, occurrence: int = 1) -> str:
    """How an enrolment element is referred to in quarantine and the manifest."""
    return occurrence_ref(f"oppilas id={enrolment_id}", occurrence)


def _element(values: dict[str, str]) -> str:
    return (
        f"  <oppilas id={quoteattr(values['id'])}><hetu>{escape(values['hetu'])}</hetu>"
        f"<koulu koodi={quoteattr(values['koodi'])}>{escape(values['koulu'])}</koulu>"
        f"<luokka>{values['luokka']}</luokka><alkupvm>{values['alkupvm']}</alkupvm>"
        f"<kieli>{values['kieli']}</kieli><tuki>{values['tuki']}</tuki></oppilas>\n"
    )


class SchoolEnrolmentWriter:
    """Streams enrolments to the XML export, injecting defects as it goes."""

    def __init__(
        self,
        path: Path,
        extracted_at: datetime,
        injector: DefectInjector,
        orphan_id: Callable[[], str],
    ) -> None:
        self._path = path
        self._extracted_at = extracted_at
        self._defects = injector
        self._rng: random.Random = injector.rng
        self._orphan_id = orphan_id
        self._pool: CleanRowPool[tuple[str, str]] = CleanRowPool(injector.rng)
        self._handle: IO[str] | None = None
        self._next_id = 1
        self.rows = 0

    def __enter__(self) -> Self:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self._path.open("w", encoding="utf-8", newline="\n")
        self._handle.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        self._handle.write(f"<{ROOT} poimittu={quoteattr(self._extracted_at.isoformat())}>\n")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.write(f"</{ROOT}>\n")
            self._handle.close()

    def write(self, enrolments: list[Enrolment]) -> None:
        """Write one `oppilas` element per enrolment (plus any injected duplicates)."""
        for enrolment in enrolments:
            check = self._defects.draw(can_duplicate=bool(self._pool))
            if check == DUPLICATE:
                element, enrolment_id = self._pool.take()
                self._emit(element)
                self._defects.record(source_ref(enrolment_id, 2), check, "enrolment_id",
                                     enrolment_id)  # fmt: skip
                check = None
            values = {
                "id": f"E{self._next_id:06d}", "hetu": enrolment.pupil_id,
                "koodi": enrolment.school_code, "koulu": enrolment.school_name,
                "luokka": str(enrolment.grade), "alkupvm": enrolment.start_date.isoformat(),
                "kieli": enrolment.language, "tuki": enrolment.support,
            }  # fmt: skip
            self._next_id += 1
            if check is not None:
                self._inject(values, check)
            element = _element(values)
            self._emit(element)
            if check is None:
                self._pool.add((element, values["id"]))

    def _emit(self, element: str) -> None:
        if self._handle is None:
            raise RuntimeError("school enrolment writer is not open")
        self._handle.write(element)
        self.rows += 1

    def _inject(self, values: dict[str, str], check: str) -> None:
        rng = self._rng
        column, value = "pupil_id", None
        if check == "henkilotunnus":
            values["hetu"] = value = with_wrong_check_character(values["hetu"], rng)
        elif check == "references":
            values["hetu"] = value = self._orphan_id()
        elif check == "valid_date":
            bad = impossible_date(rng, date.fromisoformat(values["alkupvm"]))
            values["alkupvm"] = value = f"{bad.year:04d}-{bad.month:02d}-{bad.day:02d}"
            column = "start_date"
        elif check == "no_mojibake":
            if values["koulu"].isascii():
                code, name, _, _ = rng.choice(_NON_ASCII_SCHOOLS)
                values["koodi"], values["koulu"] = code, name
            values["koulu"] = value = mojibake(values["koulu"])
            column = "school_name"
        elif check == "not_nullable":
            key = rng.choice(("koodi", "alkupvm"))
            values[key] = ""
            column = "school_code" if key == "koodi" else "start_date"
        self._defects.record(source_ref(values["id"]), check, column, value)
