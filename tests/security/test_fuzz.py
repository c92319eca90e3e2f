"""Schemathesis against the broker's own OpenAPI document, with valid tokens: no 5xx, and every
answer conforms to the schema the document promises."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.broker.app.conftest import Minter

pytestmark = pytest.mark.integration
EXAMPLES_PER_OPERATION = 40
# Schema-valid requests may still be refused on their meaning (an unknown dataset, a forged
# cursor), so acceptance of positive data is not a promise the broker makes; these are.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
CITIZEN = "131052-308T"


def _caller(path: str) -> tuple[str, str | None]:
    if path == "/v1/audit/verify":
        return "tillit-operations", None
    if path.startswith("/v1/subjects/"):
        return "suomi-citizen-portal", CITIZEN
    if path.startswith("/v1/indicators"):
        return "lahti-analytics", None  # the partner with an agreement: fuzz the release path
    return "lahti-education", None


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
def test_the_broker_keeps_its_openapi_promises(
    app: FastAPI, auth: Minter, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    calls: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            partner, subject = _caller(case.operation.path)
            headers = {**(case.headers or {}), **auth(partner, subject)}
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            calls.append(response.status_code)

        try:
            exercise()
        except Unsatisfiable:
            # An operation without parameters or body has no invalid input to generate.
            assert mode is GenerationMode.NEGATIVE
    # Every operation was really exercised, and the fuzzer reached past authentication.
    assert len(calls) >= 3 * len(operations) if mode is GenerationMode.POSITIVE else len(calls) > 20
    assert any(status not in (401, 403) for status in calls)
