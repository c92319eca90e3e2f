"""A source whose structure drifted from its documented layout is refused before any row."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from contracts.errors import SchemaDriftError
from orchestration.legacy import READERS

VTJ = "population_register/VTJ_OTE.txt"
ECE = "early_childhood_education/varhaiskasvatus.db"
XML = "school_enrolment/ilmoittautumiset.xml"
CSV = "family_services/perhepalvelut.csv"


def _edit_text(name: str, encoding: str, edit: Callable[[str], str]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / name
        with path.open(encoding=encoding, newline="") as handle:
            text = handle.read()
        with path.open("w", encoding=encoding, newline="") as handle:
            handle.write(edit(text))

    return apply


def _edit_header(name: str, encoding: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(text: str) -> str:
        header, rest = text.split("\n", 1)
        assert old in header
        return header.replace(old, new, 1) + "\n" + rest

    return _edit_text(name, encoding, edit)


def _sql(*statements: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        with closing(sqlite3.connect(root / ECE)) as db:
            for statement in statements:
                db.execute(statement)
            db.commit()

    return apply


def _xml(pattern: str, replacement: str) -> Callable[[Path], None]:
    return _edit_text(XML, "utf-8", lambda text: re.sub(pattern, replacement, text))


def _csv_drop_last_column(text: str) -> str:
    return "\r\n".join(line.rsplit(";", 1)[0] for line in text.split("\r\n"))


CASES = [
    # system, edit, offending source column, problem
    ("population_register", _edit_header(VTJ, "latin-1", "SUKUNIMI:30", "SUKU_NIMI:30"),
     "SUKUNIMI", "was renamed to 'SUKU_NIMI'"),
    ("population_register", _edit_header(VTJ, "latin-1", ";POSTINUMERO:5", ""),
     "POSTINUMERO", "is missing"),
    ("population_register", _edit_header(VTJ, "latin-1", "TUNNUS:14", "TUNNUS:14;PUHELIN:12"),
     "PUHELIN", "is not in the documented layout"),
    ("population_register", _edit_header(VTJ, "latin-1", "HETU:11", "HETU:12"),
     "HETU", "has width 12"),
    ("early_childhood_education", _sql("ALTER TABLE LPS_SIJ RENAME COLUMN TNT_VK TO TUNNIT_VK"),
     "TNT_VK", "was renamed to 'TUNNIT_VK'"),
    ("early_childhood_education", _sql("ALTER TABLE LPS_SIJ DROP COLUMN MKS_SNT"),
     "MKS_SNT", "is missing"),
    ("early_childhood_education", _sql("ALTER TABLE LPS_SIJ ADD COLUMN LISATIETO TEXT"),
     "LISATIETO", "is not in the documented layout"),
    ("early_childhood_education", _sql("ALTER TABLE YKS RENAME COLUMN YKS_NMI TO NIMI"),
     "YKS_NMI", "was renamed to 'NIMI'"),
    ("early_childhood_education", _sql("ALTER TABLE YKS RENAME TO YKSIKKO"),
     "YKS", "table is missing"),
    ("school_enrolment", _xml(r"<(/?)tuki>", r"<\1tukimuoto>"),
     "tuki", "was renamed to 'tukimuoto'"),
    ("school_enrolment", _xml(r"<kieli>\w*</kieli>", ""), "kieli", "is missing"),
    ("school_enrolment", _xml(r"</tuki>", "</tuki><opettaja>Aino Virtanen</opettaja>"),
     "opettaja", "is not in the documented layout"),
    ("family_services", _edit_header(CSV, "cp1252", "Yksikkö", "Toimipiste"),
     "Yksikkö", "was renamed to 'Toimipiste'"),
    ("family_services", _edit_text(CSV, "cp1252", _csv_drop_last_column),
     "Tuki euroa", "is missing"),
    ("family_services", _edit_header(CSV, "cp1252", "Tuki euroa", "Tuki euroa;Lisätiedot"),
     "Lisätiedot", "is not in the documented layout"),
]  # fmt: skip


@pytest.mark.parametrize(("system", "edit", "column", "problem"), CASES)
def test_drift_names_the_source_column(
    small_drop: Path,
    tmp_path: Path,
    system: str,
    edit: Callable[[Path], None],
    column: str,
    problem: str,
) -> None:
    shutil.copytree(small_drop, tmp_path, dirs_exist_ok=True)
    edit(tmp_path)
    yielded: list[pd.DataFrame] = []
    with pytest.raises(SchemaDriftError) as raised:
        yielded.extend(READERS[system](tmp_path, 50))
    assert yielded == []
    assert (raised.value.source, raised.value.column) == (system, column)
    assert problem in raised.value.problem


@pytest.mark.parametrize("system", list(READERS))
def test_untouched_copy_reads_fine(small_drop: Path, tmp_path: Path, system: str) -> None:
    shutil.copytree(small_drop, tmp_path, dirs_exist_ok=True)
    assert sum(len(frame) for frame in READERS[system](tmp_path, 50)) > 0
