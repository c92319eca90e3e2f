"""Row-level failures of a contract's pandera schema, found column by column.

The pandera schema is the only statement of the rules. ``schema_failures`` runs each column's
nullability, dtype and ``Check`` objects exactly as pandera's lazy validation does, but
collects the failing rows as arrays instead of building, consolidating and re-sorting a
``SchemaErrors`` report three times per call, which costs more than the checks themselves
on a chunk of a thousand rows. Whenever the schema or the data needs something this does not
model (schema-level checks, coercion, parsers, uniqueness, a dtype mismatch, a check that
errs or fails a whole column), pandera's own validation answers instead. Either way the
failures come out in schema order: by column, then not-null before the column's checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa
from pandera.config import ValidationDepth, get_config_context
from pandera.engines.pandas_engine import Engine

from contracts.errors import ContractError

# pandera's own names for the checks it runs before a column's Check objects, in its order.
_CORE_CHECKS = ("not_nullable", "field_uniqueness")


@dataclass(frozen=True)
class Failures:
    """Failing cells: the row label, the check's name as pandera reports it, column, value."""

    rows: np.ndarray
    checks: np.ndarray
    columns: np.ndarray
    values: np.ndarray

    @classmethod
    def concat(cls, parts: list[Failures]) -> Failures:
        """The parts one after the other (an empty result when there are none)."""
        if not parts:
            empty = np.array([], dtype=object)
            return cls(np.array([], dtype="int64"), empty, empty, empty)
        return cls(
            *(
                np.concatenate([getattr(part, name) for part in parts])
                for name in ("rows", "checks", "columns", "values")
            )
        )

    def __len__(self) -> int:
        return len(self.rows)


def _part(rows: Any, check: str, column: str, values: pd.Series) -> Failures:
    count = len(values)
    return Failures(
        np.asarray(rows, dtype="int64"),
        np.full(count, check, dtype=object),
        np.full(count, column, dtype=object),
        values.astype(object).to_numpy(),
    )


def check_identifier(check: pa.Check) -> str:
    """The name pandera gives a failed check in ``failure_cases``."""
    if check.error is not None:
        return str(check.error)
    return str(check.name) if check.name is not None else str(check)


def _modelled(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> bool:
    config = get_config_context()
    if not config.validation_enabled or config.validation_depth not in (
        None,
        ValidationDepth.SCHEMA_AND_DATA,
    ):
        return False
    if list(frame.columns) != list(schema.columns) or not frame.columns.is_unique:
        return False
    if schema.checks or schema.parsers or schema.coerce or schema.unique or schema.index:
        return False
    if schema.add_missing_columns or schema.drop_invalid_rows or schema.dtype is not None:
        return False
    return all(
        not (column.regex or column.coerce or column.parsers or column.unique)
        and column.default is None
        for column in schema.columns.values()
    )


def _dtype_ok(column: pa.Column, series: pd.Series) -> bool:
    if column.dtype is None:
        return True
    try:
        result = column.dtype.check(Engine.dtype(series.dtype), series)
    except TypeError:
        return False
    if isinstance(result, bool | np.bool_):
        return bool(result)
    return bool(np.asarray(result, dtype=bool).all())


def _column_failures(column: pa.Column, series: pd.Series) -> list[Failures] | None:
    """The column's failures in pandera's order, or None where pandera must answer."""
    parts = []
    if not column.nullable:
        missing = series.isna().to_numpy()
        if missing.any():
            parts.append(_part(series.index[missing], "not_nullable", column.name, series[missing]))
    if not _dtype_ok(column, series):
        return None
    for check in column.checks:
        if check.raise_warning or check.groupby is not None:
            return None
        try:
            result = check(series)
        except Exception:  # noqa: BLE001 - pandera reports an erring check as a whole-column failure
            return None
        if bool(result.check_passed):
            continue
        cases = result.failure_cases
        if not isinstance(cases, pd.Series):
            return None
        if check.ignore_na:
            cases = cases.dropna()
        parts.append(_part(cases.index, check_identifier(check), column.name, cases))
    return parts


def vectorised_failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> Failures | None:
    """Failures of ``frame`` against ``schema`` column by column, or None when the schema or
    the data needs pandera's full validation to be reported faithfully."""
    if not _modelled(schema, frame):
        return None
    parts: list[Failures] = []
    for name, column in schema.columns.items():
        found = _column_failures(column, frame[name])
        if found is None:
            return None
        parts.extend(found)
    return Failures.concat(parts)


def _check_rank(checks: pd.Series, numbers: pd.Series) -> np.ndarray:
    """Not-null, then uniqueness, then the dtype, then the Check objects in declared order."""
    core = checks.map({name: rank for rank, name in enumerate(_CORE_CHECKS)}).to_numpy("float64")
    number = pd.to_numeric(numbers, errors="coerce").to_numpy("float64")
    later = np.where(np.isnan(number), len(_CORE_CHECKS), len(_CORE_CHECKS) + 1 + number)
    return np.where(np.isnan(core), later, core)


def pandera_failures(schema: pa.DataFrameSchema, frame: pd.DataFrame, contract: str) -> Failures:
    """Failures of ``frame`` by pandera's own lazy validation, in schema order, then by row.

    Raises ContractError when a check fails a column as a whole, since no row can carry it.
    """
    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return Failures.concat([])
    unplaced = cases[cases["index"].isna()]
    if len(unplaced):
        first = unplaced.iloc[0]
        raise ContractError(
            f"{contract}: {first['check']} failed for column "
            f"{first['column']!r} as a whole ({first['failure_case']})"
        )
    positions = {name: position for position, name in enumerate(schema.columns)}
    order = np.lexsort(
        (
            cases["index"].to_numpy(dtype="int64"),
            _check_rank(cases["check"], cases["check_number"]),
            cases["column"].map(positions).to_numpy(dtype="float64"),
        )
    )
    cases = cases.iloc[order]
    return Failures(
        cases["index"].to_numpy(dtype="int64"),
        cases["check"].astype(object).to_numpy(),
        cases["column"].astype(object).to_numpy(),
        cases["failure_case"].astype(object).to_numpy(),
    )


def schema_failures(schema: pa.DataFrameSchema, frame: pd.DataFrame, contract: str) -> Failures:
    """Every row-level failure of ``frame`` against ``schema``, in schema order."""
    found = vectorised_failures(schema, frame)
    return pandera_failures(schema, frame, contract) if found is None else found
