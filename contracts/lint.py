"""Governance lint for contract modules: every problem names its file and field."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from contracts import datasets
from contracts.base import Contract
from contracts.errors import ContractError

_FIELD_IN_MESSAGE = re.compile(r"field '([^']+)'")


@dataclass(frozen=True)
class Violation:
    """One broken governance rule."""

    file: str
    contract: str
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.contract}" + (f".{self.field}" if self.field else "")
        return f"{where}: {self.message}"


def _modules(package: ModuleType) -> list[str]:
    return [
        f"{package.__name__}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_")
    ]


def _file_of(module_name: str) -> str:
    return str(Path(*module_name.split("."))) + ".py"


def _source_violations(
    contract: Contract, known: dict[str, Contract], file: str
) -> list[Violation]:
    problems = []
    for spec in contract.fields:
        if spec.derived:
            origin = spec.source.removeprefix("derived:")
            if origin not in contract.field_names:
                problems.append(
                    Violation(
                        file,
                        contract.name,
                        spec.name,
                        f"is derived from {origin!r}, which is not a field",
                    )
                )
        elif contract.source_system == "tillit":
            dataset, _, field = spec.source.partition(".")
            if dataset not in known or field not in known[dataset].field_names:
                problems.append(
                    Violation(
                        file,
                        contract.name,
                        spec.name,
                        f"comes from {spec.source!r}, which no contract has",
                    )
                )
    for ref in contract.references:
        target = known.get(ref.dataset)
        if target is None or ref.key not in target.primary_key:
            problems.append(
                Violation(
                    file,
                    contract.name,
                    ref.field,
                    f"references {ref.dataset}.{ref.key}, which is no key",
                )
            )
    return problems


def lint_contracts(package: ModuleType = datasets) -> list[Violation]:
    """Load every contract module of a package and check the rules that span contracts."""
    violations: list[Violation] = []
    loaded: dict[str, tuple[Contract, str]] = {}
    for module_name in _modules(package):
        file = _file_of(module_name)
        try:
            module = importlib.import_module(module_name)
        except ContractError as error:
            found = _FIELD_IN_MESSAGE.search(str(error))
            name = re.search(r"contract '([^']+)'", str(error))
            violations.append(
                Violation(
                    file,
                    name.group(1) if name else "?",
                    found.group(1) if found else None,
                    str(error),
                )
            )
            continue
        for value in vars(module).values():
            if isinstance(value, Contract):
                loaded[value.name] = (value, file)
    known = {name: contract for name, (contract, _) in loaded.items()}
    for contract, file in loaded.values():
        violations += _source_violations(contract, known, file)
    return violations
