"""Contract changes are classified as breaking or not, and the version bump must match."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts.catalog import describe
from contracts.diff import actual_bump, bump_matches, compare, contracts_at, required_bump
from contracts.registry import get_contract
from tillit.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _persons() -> dict:  # type: ignore[type-arg]
    return describe(get_contract("persons"))


def _field(doc: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(field for field in doc["fields"] if field["name"] == name)


@pytest.mark.parametrize(
    ("edit", "level"),
    [
        (lambda d: d["fields"].pop(), "major"),
        (lambda d: _field(d, "sex").update(type="integer"), "major"),
        (lambda d: _field(d, "move_in_date").update(nullable=False), "major"),
        (lambda d: _field(d, "sex").update(checks=["isin", "str_length"]), "major"),
        (lambda d: _field(d, "sex").update(classification="sensitive"), "major"),
        (lambda d: d.update(legal_basis="consent"), "major"),
        (lambda d: _field(d, "last_name").update(nullable=True), "minor"),
        (lambda d: d["fields"].append({**_field(d, "sex"), "name": "nickname"}), "minor"),
        (lambda d: _field(d, "sex").update(description="Sex"), "patch"),
    ],
)
def test_changes_are_classified(edit, level: str) -> None:  # type: ignore[no-untyped-def]
    old = _persons()
    new = copy.deepcopy(old)
    edit(new)
    assert required_bump(compare(old, new)) == level


def test_no_change_needs_no_bump() -> None:
    assert compare(_persons(), _persons()) == []
    assert required_bump([]) is None


@pytest.mark.parametrize(
    ("old", "new", "needed", "ok"),
    [
        ("1.0.0", "2.0.0", "major", True),
        ("1.0.0", "1.1.0", "major", False),
        ("1.0.0", "1.1.0", "minor", True),
        ("1.2.3", "1.2.4", "minor", False),
        ("1.2.3", "1.2.4", "patch", True),
        ("1.2.3", "1.2.3", "patch", False),
        ("1.2.3", "1.2.3", None, True),
    ],
)
def test_version_bumps_must_cover_the_changes(
    old: str, new: str, needed: str | None, ok: bool
) -> None:
    assert bump_matches(needed, actual_bump(old, new)) is ok


def test_contracts_at_head_load_from_git_and_the_cli_reports_no_mismatch() -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.fail("the test suite runs inside the Tillit git repository")
    old = contracts_at("HEAD", ROOT)
    assert old["persons"]["fields"][0]["name"] == "person_id"
    result = CliRunner().invoke(
        app, ["contracts", "diff", "--base", "HEAD"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "Contract changes since HEAD" in result.output
