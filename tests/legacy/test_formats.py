"""Each legacy file carries its system's encoding and format quirks."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

from orchestration.legacy import load_manifest

VTJ = "population_register/VTJ_OTE.txt"
ECE = "early_childhood_education/varhaiskasvatus.db"
XML = "school_enrolment/ilmoittautumiset.xml"
CSV = "family_services/perhepalvelut.csv"


def test_population_register_is_fixed_width_latin1(drop_dir: Path) -> None:
    raw = (drop_dir / VTJ).read_bytes()
    assert b"\r" not in raw
    lines = raw.split(b"\n")
    assert lines[-1] == b""
    header, records = lines[0], lines[1:-1]
    assert header.startswith(b"000TILLIT-VTJ-EXTRACT;v1;20250314;HETU:11;SUKUNIMI:30;")
    assert {len(line) for line in records} == {163}
    assert b"\xe4" in raw  # ä as one Latin-1 byte
    mojibake_lines = {
        int(d.source_ref.split()[1])
        for d in load_manifest(drop_dir)
        if d.system == "population_register" and d.expected_check == "no_mojibake"
    }
    utf8_lines = {n for n, line in enumerate(lines, 1) if b"\xc3" in line}
    assert utf8_lines == mojibake_lines  # UTF-8 byte sequences only where mojibake was injected
    assert re.fullmatch(rb"\d{8}", records[0][81:89])


def test_daycare_database_has_cryptic_names_and_finnish_dates(drop_dir: Path) -> None:
    with closing(sqlite3.connect(drop_dir / ECE)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        dates = [row[0] for row in db.execute("SELECT HAK_PVM FROM LPS_SIJ")]
        fees = [row[0] for row in db.execute("SELECT MKS_SNT FROM LPS_SIJ WHERE MKS_SNT > 0")]
        statuses = {row[0] for row in db.execute("SELECT TILA FROM LPS_SIJ")}
    assert tables == {"YKS", "LPS_SIJ"}
    assert (
        sum(bool(re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", d or "")) for d in dates) > len(dates) * 0.9
    )
    assert fees and all(isinstance(fee, int) for fee in fees)
    assert statuses <= {1, 2, 3, 9} and 2 in statuses


def test_school_export_is_utf8_xml(drop_dir: Path) -> None:
    raw = (drop_dir / XML).read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<ilmoittautumiset poimittu=')
    text = raw.decode("utf-8")
    assert "ä" in text
    assert re.search(r'<oppilas id="E\d{6}"><hetu>', text)
    assert re.search(r"<tuki>(yleinen|tehostettu|erityinen)</tuki>", text)


def test_family_services_csv_is_cp1252_with_semicolons_and_decimal_commas(drop_dir: Path) -> None:
    raw = (drop_dir / CSV).read_bytes()
    assert raw.startswith(b"Asianumero;Henkil\xf6tunnus;Asian tyyppi;Avattu;Suljettu;")
    lines = raw.split(b"\r\n")
    assert lines[-1] == b"" and all(b"\n" not in line for line in lines)
    text = raw.decode("cp1252")
    assert re.search(r";\d+,\d{2}\r\n", text)  # support in euros with a decimal comma
    assert not re.search(r";\d+\.\d{2}\r\n", text)
    assert re.search(r";\d{1,2}\.\d{1,2}\.\d{4};", text)  # D.M.YYYY dates
