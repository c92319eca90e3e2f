"""Every error answer of the broker as an RFC 7807 `application/problem+json` document."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel, ConfigDict
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from broker.errors import (
    AUTHENTICATION_DETAILS,
    PROBLEM_TYPE_BASE,
    AuthenticationError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PolicyDenied,
    RateLimited,
    RequestTimeout,
    ServiceUnavailable,
    TillitError,
)
from broker.policy import model as policy

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
INTERNAL_ERROR_DETAIL = "The broker could not complete the request; the error has been logged."
INVALID_REQUEST_DETAIL = "The request does not match the API; see errors."
_HTTP_CODES = {
    400: "malformed_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


class ProblemResponse(JSONResponse):
    """A JSON response served as `application/problem+json`."""

    media_type = PROBLEM_MEDIA_TYPE


class ProblemFieldError(BaseModel):
    """Where and why a request failed validation; never the submitted value."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 7807 problem document with Tillit's machine-readable `code`."""

    model_config = ConfigDict(extra="forbid")

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[ProblemFieldError] | None = None


def problem_document(
    status: int, code: str, title: str, detail: str, instance: str | None = None
) -> dict[str, Any]:
    """A problem document for an error that is not a TillitError."""
    problem: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance is not None:
        problem["instance"] = instance
    return problem


def invalid_request_problem(
    errors: Iterable[Mapping[str, Any]], instance: str | None = None
) -> dict[str, Any]:
    """The 422 `invalid_request` document; keeps only loc, msg and type of each error."""
    problem = problem_document(
        422, "invalid_request", "Invalid request", INVALID_REQUEST_DETAIL, instance
    )
    # Pydantic errors carry `input` and `ctx`, which may hold the personal data a partner
    # submitted; only the location, message and type are safe to echo.
    problem["errors"] = [
        {
            "loc": [_loc_part(part) for part in error["loc"]],
            "msg": error["msg"],
            "type": error["type"],
        }
        for error in errors
    ]
    return problem


def _loc_part(part: Any) -> str | int:
    return part if isinstance(part, int) else str(part)


def internal_error_problem(instance: str | None = None) -> dict[str, Any]:
    """The generic 500 document; the cause is logged, never sent."""
    return problem_document(
        500, "internal_error", "Internal error", INTERNAL_ERROR_DETAIL, instance
    )


def http_error_problem(status: int, detail: Any, instance: str | None = None) -> dict[str, Any]:
    """The document for a framework HTTPException (unknown route, wrong method, ...)."""
    if status == 404:
        # An unknown route looks exactly like a resource that exists for someone else.
        return NotFound().to_problem(instance)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    code = _HTTP_CODES.get(status, f"http_{status}")
    text = detail if isinstance(detail, str) and detail else phrase
    return problem_document(status, code, phrase, text, instance)


DATABASE_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError)


def _problem_response(request: Request, exc: Exception) -> Response:
    instance = request.url.path
    if isinstance(exc, TillitError) and exc.status != 500:
        return ProblemResponse(
            exc.to_problem(instance), status_code=exc.status, headers=dict(exc.headers)
        )
    if isinstance(exc, RequestValidationError):
        return ProblemResponse(invalid_request_problem(exc.errors(), instance), status_code=422)
    if isinstance(exc, HTTPException):
        if not is_body_allowed_for_status_code(exc.status_code):
            return Response(status_code=exc.status_code, headers=exc.headers)
        problem = http_error_problem(exc.status_code, exc.detail, instance)
        return ProblemResponse(problem, status_code=exc.status_code, headers=exc.headers)
    if isinstance(exc, DATABASE_UNAVAILABLE):
        # The store or audit database went away: fail closed and say so, nothing was released.
        logger.error("database unavailable on %s %s: %s", request.method, instance, exc)
        error = ServiceUnavailable("the database is unavailable; nothing was released")
        return ProblemResponse(
            error.to_problem(instance), status_code=503, headers={"Retry-After": "5"}
        )
    # A 500 is a bug by definition; its message may name files, keys or data, so it stays in
    # the log and the caller gets the generic document.
    logger.error(
        "Unhandled %s on %s %s", type(exc).__name__, request.method, instance, exc_info=exc
    )
    return ProblemResponse(internal_error_problem(instance), status_code=500)


async def problem_handler(request: Request, exc: Exception) -> Response:
    """Exception handler answering any exception with a problem document."""
    return _problem_response(request, exc)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error answer of `app` an `application/problem+json` document."""
    for exc_class in (
        TillitError,
        RequestValidationError,
        HTTPException,
        *DATABASE_UNAVAILABLE,
        Exception,
    ):
        # Starlette runs the `Exception` handler in its outermost middleware, so it also
        # catches what escapes other middleware; it re-raises afterwards for the server's log.
        app.add_exception_handler(exc_class, problem_handler)


_DENIAL_CODES = (
    policy.NO_AGREEMENT,
    policy.PURPOSE_NOT_PERMITTED,
    policy.LEGAL_BASIS_MISMATCH,
    policy.AGREEMENT_NOT_IN_FORCE,
    policy.PURPOSE_INCOMPATIBLE,
    policy.FIELDS_NOT_PERMITTED,
    policy.FILTER_NOT_PERMITTED,
    policy.UNKNOWN_DATASET,
    policy.UNKNOWN_PURPOSE,
    policy.CONSENT_MISSING,
    policy.CONSENT_REVOKED,
    policy.CONSENT_EXPIRED,
)
_VALIDATION_EXAMPLE = [{"loc": ["body", "purpose"], "msg": "Field required", "type": "missing"}]


def _example_problems(status: int) -> list[dict[str, Any]]:
    """One example document per code the broker answers with this status."""
    errors: Sequence[TillitError]
    if status == 401:
        errors = [AuthenticationError(code) for code in AUTHENTICATION_DETAILS]
    elif status == 403:
        errors = [Forbidden(), *(PolicyDenied(code) for code in _DENIAL_CODES)]
    elif status == 422:
        return [invalid_request_problem(_VALIDATION_EXAMPLE)]
    elif status == 500:
        return [internal_error_problem()]
    else:
        known: dict[int, TillitError] = {
            408: RequestTimeout(),
            409: Conflict(),
            413: PayloadTooLarge(),
            429: RateLimited(retry_after_seconds=30),
            503: ServiceUnavailable(),
        }
        if status not in known:
            return [http_error_problem(status, None)]
        errors = [known[status]]
    return [error.to_problem() for error in errors]


_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "RFC 6750 bearer challenge carrying the error code",
            "schema": {"type": "string"},
        }
    },
    405: {"Allow": {"description": "Methods the path accepts", "schema": {"type": "string"}}},
    429: {
        "Retry-After": {
            "description": "Seconds until the partner may retry",
            "schema": {"type": "integer"},
        }
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the problem document of each status."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        examples = _example_problems(status)
        codes = ", ".join(example["code"] for example in examples)
        entry: dict[str, Any] = {
            # `model` registers the schema in components; FastAPI also lists it under the
            # route's own media type, while the answer is always problem+json.
            "model": Problem,
            "description": f"{examples[0]['title']} (code: {codes})",
            "content": {
                PROBLEM_MEDIA_TYPE: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "examples": {
                        example["code"]: {"summary": example["detail"], "value": example}
                        for example in examples
                    },
                }
            },
        }
        if status in _HEADERS:
            entry["headers"] = _HEADERS[status]
        responses[status] = entry
    return responses
