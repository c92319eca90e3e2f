"""What changed in each contract since a git ref, whether it breaks consumers, and whether the
version bump says so (semantic versioning)."""

from __future__ import annotations

import json
import subprocess  # noqa: S404  (git and python of this repository, no shell)
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.catalog import describe

_RANK = {"public": 0, "internal": 1, "personal": 2, "sensitive": 3}
_IDENTIFIER_RANK = {"none": 0, "quasi": 1, "direct": 2}
_DUMP = (
    "import json; from contracts.registry import all_contracts; "
    "from contracts.catalog import describe; "
    "print(json.dumps({c.name: describe(c) for c in all_contracts()}))"
)


@dataclass(frozen=True)
class Change:
    """One difference between two versions of a contract."""

    contract: str
    field: str | None
    what: str
    level: str  # "major" (breaking), "minor" (additive) or "patch" (documentation)


def current_contracts() -> dict[str, dict[str, Any]]:
    """Descriptions of the contracts in this checkout."""
    from contracts.registry import all_contracts

    return {contract.name: describe(contract) for contract in all_contracts()}


def contracts_at(ref: str, repo: Path) -> dict[str, dict[str, Any]]:
    """Descriptions of the contracts as they were at a git ref (loaded in a clean process)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(  # noqa: S603
            ["git", "archive", ref, "contracts"],  # noqa: S607
            cwd=repo,
            capture_output=True,
            check=True,  # noqa: S607
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)  # noqa: S603, S607
        dumped = subprocess.run(  # noqa: S603
            [sys.executable, "-c", _DUMP],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": tmp, "PATH": "/usr/bin:/bin"},
        )
    result: dict[str, dict[str, Any]] = json.loads(dumped.stdout)
    return result


def _field_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    field = old["name"]
    changes = []
    if old["type"] != new["type"]:
        changes.append(Change(name, field, f"type {old['type']} → {new['type']}", "major"))
    if old["nullable"] and not new["nullable"]:
        changes.append(Change(name, field, "became mandatory", "major"))
    if not old["nullable"] and new["nullable"]:
        changes.append(Change(name, field, "became optional", "minor"))
    added = sorted(set(new["checks"]) - set(old["checks"]))
    if added:
        changes.append(Change(name, field, f"new rules {added}", "major"))
    if set(old["checks"]) - set(new["checks"]):
        changes.append(Change(name, field, "rules loosened", "minor"))
    if _RANK[new["classification"]] > _RANK[old["classification"]]:
        changes.append(
            Change(name, field, f"classification raised to {new['classification']}", "major")
        )
    elif new["classification"] != old["classification"]:
        changes.append(
            Change(name, field, f"classification lowered to {new['classification']}", "minor")
        )
    if _IDENTIFIER_RANK[new["identifier"]] > _IDENTIFIER_RANK[old["identifier"]]:
        changes.append(Change(name, field, f"now a {new['identifier']} identifier", "major"))
    if (old["description"], old["source"]) != (new["description"], new["source"]):
        changes.append(Change(name, field, "description or source changed", "patch"))
    return changes


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Changes from one description of a contract to the next."""
    name = new["name"]
    before = {field["name"]: field for field in old["fields"]}
    after = {field["name"]: field for field in new["fields"]}
    changes = [Change(name, field, "removed", "major") for field in before if field not in after]
    changes += [Change(name, field, "added", "minor") for field in after if field not in before]
    for field in before.keys() & after.keys():
        changes += _field_changes(name, before[field], after[field])
    for key in ("purposes", "legal_basis", "retention", "primary_key"):
        if old[key] != new[key]:
            changes.append(Change(name, None, f"{key} changed", "major"))
    if old["description"] != new["description"] or old["owner"] != new["owner"]:
        changes.append(Change(name, None, "description or owner changed", "patch"))
    return changes


def required_bump(changes: list[Change]) -> str | None:
    """The smallest semantic version bump these changes need."""
    levels = {change.level for change in changes}
    return next((level for level in ("major", "minor", "patch") if level in levels), None)


def actual_bump(old_version: str, new_version: str) -> str | None:
    """The bump between two versions (None if unchanged or lowered)."""
    old = tuple(int(part) for part in old_version.split("."))
    new = tuple(int(part) for part in new_version.split("."))
    if new <= old:
        return None
    return "major" if new[0] > old[0] else "minor" if new[1] > old[1] else "patch"


def bump_matches(needed: str | None, actual: str | None) -> bool:
    """Whether the version was bumped at least as much as the changes need."""
    order = [None, "patch", "minor", "major"]
    return order.index(actual) >= order.index(needed)
