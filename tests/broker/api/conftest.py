"""A tiny FastAPI app wired with the broker's problem handlers and resource limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, Query, Request
from pydantic import BaseModel, ConfigDict

from broker.api.limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimitMiddleware, RateLimiter
from broker.api.problems import PROBLEM_MEDIA_TYPE, Problem, install_problem_handlers
from broker.errors import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PolicyDenied,
    RateLimited,
    ServiceUnavailable,
    TillitError,
)
from tests.broker.tokens import FakeClock

# A made-up Finnish identity code: it stands for the personal data a partner might submit.
PERSONAL = "010190-998X"

ERRORS: dict[str, TillitError] = {
    "token_expired": AuthenticationError("token_expired"),
    "missing_token": AuthenticationError("missing_token"),
    "forbidden": Forbidden(),
    "purpose_not_permitted": PolicyDenied("purpose_not_permitted"),
    "not_found": NotFound(),
    "conflict": Conflict(),
    "payload_too_large": PayloadTooLarge(),
    "rate_limited": RateLimited(retry_after_seconds=7),
    "service_unavailable": ServiceUnavailable(),
    "configuration_error": ConfigurationError("/etc/tillit/partners.yaml", "bad key"),
}


class ShareBody(BaseModel):
    """The shape of a share request, enough to provoke validation errors."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    purpose: str
    fields: list[str] | None = None


@dataclass
class TinyApp:
    """The app plus what its routes saw."""

    app: FastAPI
    clock: FakeClock
    limiter: RateLimiter
    calls: list[Any] = field(default_factory=list)


def build_app(max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> TinyApp:
    """A FastAPI app with the broker's handlers, body limits and a rate-limited route."""
    app = FastAPI()
    clock = FakeClock()
    tiny = TinyApp(app, clock, RateLimiter(rate_per_minute=60, burst=2, clock=clock))
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=max_body_bytes)

    @app.post("/v1/shares")
    def create_share(
        body: ShareBody, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
    ) -> dict[str, Any]:
        tiny.calls.append(body)
        return {"dataset": body.dataset, "limit": limit}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        tiny.calls.append(body)
        return {"bytes": len(body)}

    @app.get("/errors/{name}")
    def raise_error(name: str) -> None:
        raise ERRORS[name]

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError(f"secret key at /etc/tillit/pseudonym.key for {PERSONAL}")

    def limited_partner(x_partner: Annotated[str, Header()]) -> str:
        tiny.limiter.check(x_partner)
        return x_partner

    # A default, not Annotated: postponed annotations cannot name this local function.
    @app.get("/limited")
    def limited(partner: str = Depends(limited_partner)) -> dict[str, str]:
        return {"partner": partner}

    return tiny


@pytest.fixture
def tiny() -> TinyApp:
    return build_app()


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check a problem answer and return its document."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    document: dict[str, Any] = response.json()
    Problem.model_validate(document)
    assert document["status"] == status
    assert document["code"] == code
    assert document["type"].endswith("/" + code)
    assert document["instance"] == response.request.url.path
    return document
