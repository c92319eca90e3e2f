"""Validate legacy rows against a contract, lazily and completely, and explain every rejection.

A chunk of raw rows goes in; typed rows that meet the contract and one quarantine record per
rejected row come out. Nothing is dropped: ``len(valid) + len(rejected) == len(raw)``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa

from contracts.base import Contract, FieldSpec
from contracts.errors import ContractError, SchemaDriftError
from contracts.failures import Failures, schema_failures
from contracts.store import SOURCE_REF

_CHECK_NAME = re.compile(r"^([A-Za-z_]+)")
_TRUE = {"true", "1", "yes", "kyllä", "k"}
_FALSE = {"false", "0", "no", "ei", "e"}


@dataclass
class ChunkResult:
    """Rows of one chunk that met the contract, and quarantine records for those that did not."""

    valid: pd.DataFrame
    rejected: list[dict[str, Any]]


# A row's quarantine record leads with its first failure by stage, then as the stage found it.
COERCION, SCHEMA, KEYS, REFERENCES = 0, 1, 2, 3


@dataclass
class _FailureLog:
    """The failures found in one chunk, stage by stage."""

    stages: list[tuple[int, Failures]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.stages)

    def add(self, stage: int, failures: Failures) -> None:
        if len(failures):
            self.stages.append((stage, failures))

    def add_cells(self, stage: int, rows: Any, check: str, column: str, values: Any) -> None:
        count = len(rows)
        self.add(
            stage,
            Failures(
                np.asarray(rows, dtype="int64"),
                np.full(count, check, dtype=object),
                np.full(count, column, dtype=object),
                pd.Series(values).astype(object).to_numpy(),
            ),
        )

    def failed_rows(self, length: int) -> np.ndarray:
        """A mask of the rows (by position) with at least one failure."""
        failed = np.zeros(length, dtype=bool)
        for _, failures in self.stages:
            failed[failures.rows] = True
        return failed

    def by_row(self) -> Failures:
        """Every failure, ordered by row, then stage, then as the stage found it."""
        staged = Failures.concat([f for _, f in sorted(self.stages, key=lambda s: s[0])])
        order = np.argsort(staged.rows, kind="stable")
        return Failures(
            staged.rows[order], staged.checks[order], staged.columns[order], staged.values[order]
        )


_MISSING_KEY = object()


def _members(values: list[Any], keys: Set[Any]) -> np.ndarray:
    """``isin`` for a large set of keys: each value is looked up in the set, where ``isin``
    would copy the whole set into a new hash table on every chunk."""
    return np.fromiter(map(keys.__contains__, values), dtype=bool, count=len(values))


def _check_names(identifiers: np.ndarray) -> np.ndarray:
    """Short check names (``isin`` for ``isin(['male', 'female'])``) as quarantine reports them."""
    unique = pd.unique(pd.Series(identifiers, dtype=object))
    short = pd.Series(unique, dtype=object).astype("str").str.extract(_CHECK_NAME, expand=False)
    names = dict(zip(unique, short.astype(object), strict=True))
    return np.array([names[identifier] for identifier in identifiers], dtype=object)


def _coerce(spec: FieldSpec, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Convert canonical text to the field's type; return the values and a mask of failures."""
    values: pd.Series[Any]
    if spec.dtype == "string":
        return raw.astype("str"), pd.Series(False, index=raw.index)
    present = raw.notna()
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
    _seen: set[object] = field(default_factory=set, init=False, repr=False)
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

    def _typed(self, raw: pd.DataFrame, log: _FailureLog) -> pd.DataFrame:
        typed: dict[str, pd.Series] = {}
        for spec in self.contract.source_fields:
            values, failed = _coerce(spec, raw[spec.name])
            typed[spec.name] = values
            if failed.any():
                check = _COERCE_CHECK.get(spec.dtype, "valid_value")
                rows = raw.index[failed]
                log.add_cells(COERCION, rows, check, spec.name, raw[spec.name][failed].values)
        frame = pd.DataFrame(typed, index=raw.index)
        for name, derive in self.contract.derivations.items():
            frame[name] = derive(frame)
        return frame[list(self.contract.field_names)]

    def _schema_failures(self, typed: pd.DataFrame, log: _FailureLog) -> None:
        found = schema_failures(self._schema, typed, self.contract.name)
        log.add(
            SCHEMA,
            Failures(found.rows, _check_names(found.checks), found.columns, found.values),
        )

    def _key_failures(self, typed: pd.DataFrame, failed: np.ndarray, log: _FailureLog) -> None:
        pk = list(self.contract.primary_key)
        keys = typed[pk[0]].astype("str")
        for extra in pk[1:]:
            keys = keys + "\x1f" + typed[extra].astype("str")
        candidates = keys[~failed]
        values: list[object] = list(candidates.tolist())
        missing = candidates.isna().to_numpy()
        if missing.any():  # missing keys are equal to each other, as in ``duplicated``
            values = [_MISSING_KEY if gone else v for v, gone in zip(values, missing, strict=True)]
        duplicate = candidates.duplicated().to_numpy() | _members(values, self._seen)
        if duplicate.any():
            dup_rows = candidates.index[duplicate]
            log.add_cells(KEYS, dup_rows, "unique_key", pk[0], typed.loc[dup_rows, pk[0]].values)
        self._seen.update(itertools.compress(values, ~duplicate))

    def _reference_failures(self, typed: pd.DataFrame, log: _FailureLog) -> None:
        for ref in self.contract.references:
            parents = self.known_keys.get(ref.dataset)
            if parents is None:
                raise ContractError(f"{self.contract.name}: keys of {ref.dataset!r} were not given")
            values = typed[ref.field]
            orphan = values.notna().to_numpy() & ~_members(values.tolist(), parents)
            if orphan.any():
                log.add_cells(
                    REFERENCES, typed.index[orphan], "references", ref.field, values[orphan].values
                )

    def validate(self, raw: pd.DataFrame) -> ChunkResult:
        """Validate one chunk of canonical text rows (with a ``_source_ref`` column)."""
        self._check_shape(raw)
        raw = raw.reset_index(drop=True)
        log = _FailureLog()
        typed = self._typed(raw, log)
        self._schema_failures(typed, log)
        self._reference_failures(typed, log)
        self._key_failures(typed, log.failed_rows(len(typed)), log)
        if not log:
            return ChunkResult(typed.assign(**{SOURCE_REF: raw[SOURCE_REF]}), [])
        rejected = log.failed_rows(len(typed))
        valid = typed[~rejected].assign(**{SOURCE_REF: raw[SOURCE_REF]})
        return ChunkResult(valid, _quarantine_records(raw, log.by_row()))


def _quarantine_records(raw: pd.DataFrame, table: Failures) -> list[dict[str, Any]]:
    """One record per failing row (rows by position in ``raw``), its first failure leading."""
    starts = np.flatnonzero(np.r_[True, table.rows[1:] != table.rows[:-1]])
    ends = [*starts[1:].tolist(), len(table)]
    failures = [
        {"check": str(check), "column": None if pd.isna(column) else str(column), "value": _text(v)}
        for check, column, v in zip(table.checks, table.columns, table.values, strict=True)
    ]
    rows = raw.iloc[table.rows[starts]]
    names = [name for name in raw.columns if name != SOURCE_REF]
    texts = [[_text(value) for value in rows[name].tolist()] for name in names]
    raw_records = [dict(zip(names, cells, strict=True)) for cells in zip(*texts, strict=True)]
    if not names:
        raw_records = [{} for _ in starts]
    records = []
    for start, end, ref, raw_record in zip(
        starts.tolist(), ends, rows[SOURCE_REF].tolist(), raw_records, strict=True
    ):
        first = failures[start]
        records.append(
            {
                "source_ref": str(ref),
                "check_name": first["check"],
                "column_name": first["column"],
                "offending_value": first["value"],
                "failures": failures[start:end],
                "raw_record": raw_record,
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
