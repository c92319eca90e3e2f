"""Reader of the school enrolment XML export, streamed with iterparse.

Memory stays bounded by clearing finished elements; only the enrolment ids seen so far are kept
(a few MB at a million residents) so that a repeated id gets its own source reference.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Generator, Iterator
from contextlib import closing
from itertools import islice
from pathlib import Path

import pandas as pd

from contracts.errors import SchemaDriftError
from orchestration.legacy.canonical import clean_text, iso_date, label
from orchestration.legacy.drop import FILES
from orchestration.legacy.readers.common import DEFAULT_CHUNK_SIZE, Row, check_columns, frames
from orchestration.legacy.school_enrolment import (
    CANONICAL_COLUMNS,
    CHILD_ELEMENTS,
    RECORD,
    ROOT,
    SUPPORT_LABELS,
    SYSTEM,
    source_ref,
)

DRIFT_SAMPLE = 20  # records whose child elements are compared with the documented layout


def _records(path: Path) -> Generator[ET.Element, None, None]:
    with path.open("rb") as handle:
        # expat resolves no external entities; the export is read as data only
        context = ET.iterparse(handle, events=("start", "end"))  # noqa: S314
        _, root = next(context)
        if root.tag != ROOT:
            raise SchemaDriftError(SYSTEM, root.tag, f"is not the documented root element {ROOT}")
        for event, element in context:
            if event == "end" and element.tag == RECORD:
                yield element
                element.clear()
                root.clear()  # drop finished records so memory stays bounded


def check_structure(path: Path) -> None:
    """Compare the child element names of the first records with the documented layout."""
    seen: list[str] = []
    with closing(_records(path)) as records:
        for element in islice(records, DRIFT_SAMPLE):  # inspected before the next clears it
            if element.get("id") is None:
                raise SchemaDriftError(SYSTEM, "id", "is missing")
            seen.extend(child.tag for child in element if child.tag not in seen)
    if seen:
        check_columns(SYSTEM, CHILD_ELEMENTS, seen, ordered=False)


def _text(element: ET.Element, tag: str) -> str | None:
    child = element.find(tag)
    return None if child is None else clean_text(child.text)


def _rows(path: Path) -> Iterator[Row]:
    occurrences: dict[str, int] = {}
    for element in _records(path):
        enrolment_id = element.get("id") or ""
        occurrence = occurrences[enrolment_id] = occurrences.get(enrolment_id, 0) + 1
        school = element.find("koulu")
        yield (
            clean_text(enrolment_id), _text(element, "hetu"),
            None if school is None else clean_text(school.get("koodi")),
            _text(element, "koulu"), _text(element, "luokka"), iso_date(_text(element, "alkupvm")),
            _text(element, "kieli"), label(_text(element, "tuki"), SUPPORT_LABELS),
            source_ref(enrolment_id, occurrence),
        )  # fmt: skip


def read_school_enrolment(
    legacy_dir: Path, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[pd.DataFrame]:
    """Yield canonical enrolment rows, one per `oppilas` element, in chunks."""
    path = legacy_dir / FILES[SYSTEM]
    check_structure(path)
    return frames(_rows(path), CANONICAL_COLUMNS, chunk_size)
