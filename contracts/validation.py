"""Validate legacy rows against a contract, lazily and completely, and explain every rejection.

A chunk of raw rows goes in; typed rows that meet the contract and one quarantine record per
rejected row come out. Nothing is dropped: ``len(valid) + len(rejected) == len(raw)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.errors
import pandera.pandas as pa

from contracts.base import Contract, FieldSpec
from contracts.errors import ContractError, SchemaDriftError
from contracts.store import SOURCE_REF

_FAILURE_COLUMNS = ["row", "order", "check", "column", "value"]
_CHECK_NAME = re.compile(r"^([A-Za-z_]+)")
_TRUE = {"true", "1", "yes", "kyllä", "k"}
_FALSE = {"false", "0", "no", "ei", "e"}


@dataclass
class ChunkResult:
    """Rows of one chunk that met the contract, and quarantine records for those that did not."""

    valid: pd.DataFrame
    rejected: list[dict[str, Any]]


def _failures(rows: Any, order: int, check: str, column: str | None, values: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {"row": rows, "order": order, "check": check, "column": column, "value": values}
    )


def _coerce(spec: FieldSpec, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Convert canonical text to the field's type; return the values and a mask of failures."""
    present = raw.notna()
    values: pd.Series[Any]
    if spec.dtype == "string":
        return raw.astype("str"), present & False
    if spec.dtype == "date":
        values = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
    elif spec.dtype in ("integer", "number"):
        values = pd.to_numeric(raw, errors="coerce")
        if spec.dtype == "integer":
            integral = values.isna() | (values % 1 == 0)
            values = values.where(integral).astype("Int64")
    else:
        lowered = raw.astype("str").str.strip().str.lower()
        values = lowered.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
        values = values.astype("boolean")
    return values, present & values.isna()


_COERCE_CHECK = {"date": "valid_date", "integer": "valid_integer", "number": "valid_number"}


@dataclass
class ContractValidator:
    """Validates successive chunks of one source against a contract.

    Keeps the keys it has accepted so a duplicate in a later chunk is still caught, and checks
    references against the keys of already-loaded parent datasets (``known_keys``).
    """

    contract: Contract
    known_keys: Mapping[str, Set[str]] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set, init=False, repr=False)
    _schema: pa.DataFrameSchema = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._schema = self.contract.schema

    def _check_shape(self, raw: pd.DataFrame) -> None:
        expected = [spec.name for spec in self.contract.source_fields]
        source = self.contract.source_system
        for name in expected:
            if name not in raw.columns:
                raise SchemaDriftError(source, name, "is missing from the source")
        for name in raw.columns:
            if name != SOURCE_REF and name not in expected:
                raise SchemaDriftError(source, str(name), "is not in the contract")

    def _typed(self, raw: pd.DataFrame, failures: list[pd.DataFrame]) -> pd.DataFrame:
        typed: dict[str, pd.Series] = {}
        for spec in self.contract.source_fields:
            values, failed = _coerce(spec, raw[spec.name])
            typed[spec.name] = values
            if failed.any():
                check = _COERCE_CHECK.get(spec.dtype, "valid_value")
                rows = raw.index[failed]
                failures.append(_failures(rows, 0, check, spec.name, raw[spec.name][failed].values))
        frame = pd.DataFrame(typed, index=raw.index)
        for name, derive in self.contract.derivations.items():
            frame[name] = derive(frame)
        return frame[list(self.contract.field_names)]

    def _schema_failures(self, typed: pd.DataFrame, failures: list[pd.DataFrame]) -> None:
        try:
            self._schema.validate(typed, lazy=True)
        except pandera.errors.SchemaErrors as errors:
            cases = errors.failure_cases
            unplaced = cases[cases["index"].isna()]
            if len(unplaced):
                first = unplaced.iloc[0]
                raise ContractError(
                    f"{self.contract.name}: {first['check']} failed for column "
                    f"{first['column']!r} as a whole ({first['failure_case']})"
                ) from None
            checks = cases["check"].astype("str").str.extract(_CHECK_NAME, expand=False)
            rows = cases["index"].astype("int64").values
            failures.append(
                _failures(
                    rows, 1, checks.values, cases["column"].values, cases["failure_case"].values
                )
            )

    def _key_failures(
        self, typed: pd.DataFrame, failed: pd.Series, failures: list[pd.DataFrame]
    ) -> None:
        pk = list(self.contract.primary_key)
        keys = typed[pk[0]].astype("str")
        for extra in pk[1:]:
            keys = keys + "\x1f" + typed[extra].astype("str")
        candidates = keys[~failed]
        duplicate = candidates.duplicated() | candidates.isin(self._seen)
        if duplicate.any():
            dup_rows = candidates.index[duplicate]
            failures.append(
                _failures(dup_rows, 2, "unique_key", pk[0], typed.loc[dup_rows, pk[0]].values)
            )
        self._seen.update(candidates[~duplicate].tolist())

    def _reference_failures(self, typed: pd.DataFrame, failures: list[pd.DataFrame]) -> None:
        for ref in self.contract.references:
            parents = self.known_keys.get(ref.dataset)
            if parents is None:
                raise ContractError(f"{self.contract.name}: keys of {ref.dataset!r} were not given")
            values = typed[ref.field]
            orphan = values.notna() & ~values.isin(parents)
            if orphan.any():
                failures.append(
                    _failures(
                        typed.index[orphan], 3, "references", ref.field, values[orphan].values
                    )
                )

    def validate(self, raw: pd.DataFrame) -> ChunkResult:
        """Validate one chunk of canonical text rows (with a ``_source_ref`` column)."""
        self._check_shape(raw)
        raw = raw.reset_index(drop=True)
        failures: list[pd.DataFrame] = []
        typed = self._typed(raw, failures)
        self._schema_failures(typed, failures)
        self._reference_failures(typed, failures)
        failed_rows = pd.concat(failures)["row"] if failures else pd.Series([], dtype="int64")
        failed = pd.Series(typed.index.isin(failed_rows), index=typed.index)
        self._key_failures(typed, failed, failures)
        if not failures:
            return ChunkResult(typed.assign(**{SOURCE_REF: raw[SOURCE_REF]}), [])
        table = pd.concat(failures, ignore_index=True).sort_values(["row", "order"], kind="stable")
        rejected_rows = table["row"].unique()
        valid = typed.drop(index=list(rejected_rows)).assign(**{SOURCE_REF: raw[SOURCE_REF]})
        return ChunkResult(valid, self._quarantine_records(raw, table))

    def _quarantine_records(self, raw: pd.DataFrame, table: pd.DataFrame) -> list[dict[str, Any]]:
        records = []
        for row, group in table.groupby("row", sort=True):
            first = group.iloc[0]
            source = raw.loc[row]
            records.append(
                {
                    "source_ref": str(source[SOURCE_REF]),
                    "check_name": str(first["check"]),
                    "column_name": None if pd.isna(first["column"]) else str(first["column"]),
                    "offending_value": _text(first["value"]),
                    "failures": [
                        {
                            "check": str(c),
                            "column": None if pd.isna(col) else str(col),
                            "value": _text(v),
                        }
                        for c, col, v in zip(
                            group["check"], group["column"], group["value"], strict=True
                        )
                    ],
                    "raw_record": {k: _text(v) for k, v in source.items() if k != SOURCE_REF},
                }
            )
        return records


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def validate_computed(contract: Contract, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate a dataset Tillit computes itself; any failure is a defect, so raise it."""
    try:
        return contract.schema.validate(frame[list(contract.field_names)], lazy=True)
    except pandera.errors.SchemaErrors as errors:
        summary = errors.failure_cases[["column", "check", "failure_case"]].head(5)
        raise ContractError(
            f"{contract.name} breaks its contract: {summary.to_dict('records')}"
        ) from None
