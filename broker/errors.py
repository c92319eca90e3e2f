"""The broker's one error hierarchy, with machine codes mapped to RFC 7807 problem documents."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "https://tillit.fi/problems/"


class TillitError(Exception):
    """Base of every error the broker turns into an `application/problem+json` answer."""

    status: ClassVar[int] = 500
    code: str = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail if detail is not None else self.title
        super().__init__(self.detail)

    @property
    def headers(self) -> Mapping[str, str]:
        """Extra response headers this error requires (e.g. WWW-Authenticate, Retry-After)."""
        return {}

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """Return the RFC 7807 problem document for this error."""
        problem: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance is not None:
            problem["instance"] = instance
        return problem


# Each authentication code has one fixed detail, so a response never tells a caller more
# about why its token failed than the stable code already does.
AUTHENTICATION_DETAILS: Mapping[str, str] = {
    "invalid_token": "The access token is malformed or its signature does not verify.",
    "token_expired": "The access token has expired.",
    "token_not_yet_valid": "The access token is not valid yet.",
    "token_replayed": "The access token has already been used; sign a fresh token per request.",
    "unknown_issuer": "The token issuer is not a configured partner.",
    "unknown_key": "No usable key of the issuer matches the token.",
    "algorithm_not_allowed": "The token's signing algorithm is not allowed.",
    "header_not_allowed": "The token carries a header parameter the broker does not accept.",
    "token_lifetime_too_long": "The access token lives longer than the broker accepts.",
    "missing_claim": "The access token lacks a required claim.",
    "wrong_audience": "The access token is not addressed to this broker.",
    "wrong_token_type": "The token is not an RFC 9068 access token (typ at+jwt).",
    "wrong_client": "The token's client_id is not the partner its issuer belongs to.",
    "missing_token": "A bearer access token is required.",
}


class AuthenticationError(TillitError):
    """The caller could not be authenticated (401)."""

    status = 401
    title = "Authentication failed"

    def __init__(self, code: str, detail: str | None = None) -> None:
        if code not in AUTHENTICATION_DETAILS:
            raise ValueError(f"unknown authentication error code {code!r}")
        self.code = code
        super().__init__(detail if detail is not None else AUTHENTICATION_DETAILS[code])

    @property
    def headers(self) -> Mapping[str, str]:
        """RFC 6750 challenge; the code is the only diagnostic the caller gets."""
        if self.code == "missing_token":
            # RFC 6750 section 3.1: a request without credentials gets no error attribute.
            return {"WWW-Authenticate": 'Bearer realm="tillit"'}
        return {
            "WWW-Authenticate": f'Bearer realm="tillit", error="invalid_token", code="{self.code}"'
        }


class Forbidden(TillitError):
    """The caller is authenticated but may not do this (403)."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class PolicyDenied(Forbidden):
    """The policy engine denied a share; the code is the decision's reason code (403)."""

    title = "Share denied by policy"

    def __init__(self, code: str, detail: str | None = None) -> None:
        self.code = code
        super().__init__(detail)


class InvalidRequest(TillitError):
    """The request is well-formed JSON but cannot be served as asked (422)."""

    status = 422
    code = "invalid_request"
    title = "Invalid request"

    def __init__(self, detail: str, code: str = "invalid_request") -> None:
        super().__init__(detail)
        self.code = code


class NotFound(TillitError):
    """The resource does not exist, or exists for someone else (404)."""

    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(TillitError):
    """The request conflicts with an earlier one, e.g. a reused idempotency key (409)."""

    status = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLarge(TillitError):
    """The request body exceeds the configured limit (413)."""

    status = 413
    code = "payload_too_large"
    title = "Request body too large"


class RequestTimeout(TillitError):
    """The client did not send its request body within the configured time (408)."""

    status = 408
    code = "request_timeout"
    title = "Request timeout"


class RateLimited(TillitError):
    """The partner exceeded its request rate (429)."""

    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, retry_after_seconds: int, detail: str | None = None) -> None:
        self.retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(detail)

    @property
    def headers(self) -> Mapping[str, str]:
        """Tell the client when it may retry."""
        return {"Retry-After": str(self.retry_after_seconds)}


class ServiceUnavailable(TillitError):
    """A dependency the broker needs to answer safely is unavailable; nothing is released (503)."""

    status = 503
    code = "service_unavailable"
    title = "Service unavailable"


class ConfigurationError(TillitError):
    """The configuration is invalid; raised at startup so the broker never runs half-configured."""

    code = "configuration_error"
    title = "Invalid configuration"

    def __init__(self, file: Path | str | None, problem: str) -> None:
        self.file = str(file) if file is not None else None
        self.problem = problem
        super().__init__(f"{self.file}: {problem}" if self.file else problem)
