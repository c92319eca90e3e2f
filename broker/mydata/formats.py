"""A person's export as JSON or CSV: the same content, with descriptions and withheld fields."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Literal

from broker.errors import InvalidRequest
from broker.mydata.export import SubjectExport

ExportFormat = Literal["json", "csv"]
JSON_MEDIA = "application/json"
CSV_MEDIA = "text/csv"
CSV_COLUMNS = (
    "dataset",
    "record",
    "field",
    "value",
    "description",
    "source_system",
    "source_field",
    "withheld_reason",
)
# A spreadsheet would run a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "@", "\t", "\r")


def choose_format(requested: str | None, accept: str | None) -> ExportFormat:
    """`format=` if given (json or csv), else `text/csv` in Accept, else JSON."""
    if requested is not None:
        if requested not in ("json", "csv"):
            raise InvalidRequest("format must be json or csv", code="invalid_format")
        return "csv" if requested == "csv" else "json"
    media = [part.split(";")[0].strip().lower() for part in (accept or "").split(",")]
    return "csv" if CSV_MEDIA in media and JSON_MEDIA not in media else "json"


def export_document(export: SubjectExport) -> dict[str, Any]:
    """The JSON document of an export."""
    return {
        "subject_access": {
            "id": export.subject_access_id,
            "version": export.subject_access_version,
        },
        "exported_at": export.exported_at.isoformat(),
        "datasets": [
            {
                "dataset": item.dataset,
                "description": item.description,
                "contract_version": item.contract_version,
                "source_system": item.source_system,
                "export_id": item.export_id,
                "audit_seq": item.audit_seq,
                "fields": [asdict(spec) for spec in item.fields],
                "withheld_fields": [asdict(withheld) for withheld in item.withheld],
                "row_count": len(item.rows),
                "rows": item.rows,
            }
            for item in export.datasets
        ],
    }


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_csv(export: SubjectExport) -> str:
    """One line per value: dataset, record number, field, value and the field's description.

    This long form carries the descriptions and the withheld fields (one line each, with the
    reason and an empty value) in a single table that any spreadsheet opens.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in export.datasets:
        for number, row in enumerate(item.rows, start=1):
            for spec in item.fields:
                writer.writerow(
                    _line(item.dataset, number, spec.name, row.get(spec.name), asdict(spec), "")
                )
        for withheld in item.withheld:
            writer.writerow(
                _line(
                    item.dataset,
                    "",
                    withheld.field,
                    None,
                    {"description": withheld.explanation, "source_system": item.source_system},
                    f"{withheld.reason}: {withheld.legal_basis}",
                )
            )
    return buffer.getvalue()


def _line(
    dataset: str,
    record: int | str,
    name: str,
    value: Any,
    spec: Mapping[str, Any],
    withheld: str,
) -> list[str]:
    return [
        dataset,
        str(record),
        name,
        _cell(value),
        _cell(spec.get("description", "")),
        spec.get("source_system", ""),
        _cell(spec.get("source_field", "")),
        withheld,
    ]
