"""Every error answer is an application/problem+json document, and none leaks what it should not."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from broker.api.problems import PROBLEM_MEDIA_TYPE, Problem, problem_responses
from broker.errors import AUTHENTICATION_DETAILS
from tests.broker.api.conftest import PERSONAL, TinyApp, assert_problem


@pytest.mark.parametrize(
    ("name", "status", "code", "header", "header_value"),
    [
        ("token_expired", 401, "token_expired", "WWW-Authenticate", 'code="token_expired"'),
        ("missing_token", 401, "missing_token", "WWW-Authenticate", 'Bearer realm="tillit"'),
        ("forbidden", 403, "forbidden", None, None),
        ("purpose_not_permitted", 403, "purpose_not_permitted", None, None),
        ("not_found", 404, "not_found", None, None),
        ("conflict", 409, "conflict", None, None),
        ("payload_too_large", 413, "payload_too_large", None, None),
        ("rate_limited", 429, "rate_limited", "Retry-After", "7"),
        ("service_unavailable", 503, "service_unavailable", None, None),
    ],
)
def test_tillit_errors_become_problems(
    tiny: TinyApp,
    name: str,
    status: int,
    code: str,
    header: str | None,
    header_value: str | None,
) -> None:
    response = TestClient(tiny.app).get(f"/errors/{name}")
    assert_problem(response, status, code)
    if header is not None:
        assert header_value is not None
        assert header_value in response.headers[header]


def test_validation_errors_name_locations_but_never_echo_values(tiny: TinyApp) -> None:
    response = TestClient(tiny.app).post(
        "/v1/shares?limit=987654321",
        json={"dataset": "population", "purpose": {"hetu": PERSONAL}, "hetu": PERSONAL},
    )
    document = assert_problem(response, 422, "invalid_request")
    assert {tuple(error["loc"]) for error in document["errors"]} == {
        ("query", "limit"),
        ("body", "purpose"),
        ("body", "hetu"),
    }
    assert all(set(error) == {"loc", "msg", "type"} for error in document["errors"])
    assert PERSONAL not in response.text
    assert "987654321" not in response.text
    assert tiny.calls == []


def test_malformed_json_is_invalid_request_without_echo(tiny: TinyApp) -> None:
    response = TestClient(tiny.app).post(
        "/v1/shares",
        content=f'{{"dataset": "{PERSONAL}", '.encode(),
        headers={"content-type": "application/json"},
    )
    document = assert_problem(response, 422, "invalid_request")
    assert document["errors"][0]["type"] == "json_invalid"
    assert PERSONAL not in response.text


def test_unknown_route_is_a_not_found_problem(tiny: TinyApp) -> None:
    assert_problem(TestClient(tiny.app).get("/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_a_problem_with_allow(tiny: TinyApp) -> None:
    response = TestClient(tiny.app).delete("/v1/shares")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


def test_a_crash_is_a_generic_problem_and_the_traceback_goes_to_the_log(
    tiny: TinyApp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="broker.api.problems"):
        response = TestClient(tiny.app, raise_server_exceptions=False).get("/boom")
    document = assert_problem(response, 500, "internal_error")
    for secret in ("RuntimeError", "Traceback", "pseudonym.key", PERSONAL):
        assert secret not in response.text
    assert "logged" in document["detail"]
    [record] = [r for r in caplog.records if r.name == "broker.api.problems"]
    assert record.exc_info is not None
    assert "/boom" in record.getMessage()


def test_an_internal_tillit_error_does_not_leak_its_detail(tiny: TinyApp) -> None:
    response = TestClient(tiny.app, raise_server_exceptions=False).get(
        "/errors/configuration_error"
    )
    assert_problem(response, 500, "internal_error")
    assert "partners.yaml" not in response.text


STATUSES = (401, 403, 404, 405, 409, 413, 422, 429, 500, 503)


def test_openapi_documents_each_problem_with_examples() -> None:
    app = FastAPI()

    @app.post("/v1/shares", responses=problem_responses(*STATUSES))
    def create_share(dataset: str) -> dict[str, str]:
        return {"dataset": dataset}

    schema = app.openapi()
    assert "Problem" in schema["components"]["schemas"]
    operation = schema["paths"]["/v1/shares"]["post"]
    for status in STATUSES:
        content = operation["responses"][str(status)]["content"][PROBLEM_MEDIA_TYPE]
        assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
        for code, example in content["examples"].items():
            problem = Problem.model_validate(example["value"])
            assert (problem.status, problem.code) == (status, code)
    responses = operation["responses"]
    examples_401 = responses["401"]["content"][PROBLEM_MEDIA_TYPE]["examples"]
    assert set(examples_401) == set(AUTHENTICATION_DETAILS)
    assert "no_agreement" in responses["403"]["content"][PROBLEM_MEDIA_TYPE]["examples"]
    assert "Retry-After" in responses["429"]["headers"]
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert "HTTPValidationError" not in str(responses["422"])
