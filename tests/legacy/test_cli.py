"""The `generate` command writes a drop and summarises it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from orchestration.legacy import read_drop_info
from orchestration.legacy.cli import legacy_app


def test_generate_writes_a_drop_and_prints_a_summary(tmp_path: Path) -> None:
    args = ["generate", "--out", str(tmp_path), "--people", "300", "--seed", "5",
            "--defect-rate", "0.1", "--as-of", "2025-03-14"]  # fmt: skip
    result = CliRunner().invoke(legacy_app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    info = read_drop_info(tmp_path)
    assert (info.people, info.seed, info.defect_rate, str(info.as_of)) == (
        300,
        5,
        0.1,
        "2025-03-14",
    )
    for text in ("population_register", "VTJ_OTE.txt", "family_services", "henkilotunnus"):
        assert text in result.output


def test_generate_rejects_a_malformed_date(tmp_path: Path) -> None:
    args = ["generate", "--out", str(tmp_path), "--people", "10", "--as-of", "14.3.2025"]
    result = CliRunner().invoke(legacy_app, args)
    assert result.exit_code != 0
    assert not (tmp_path / "drop.json").exists()
