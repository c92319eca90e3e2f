"""FastAPI dependencies: the runtime, the authenticated principal and role requirements."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from broker.auth.principal import Principal
from broker.errors import AuthenticationError, Forbidden
from broker.mydata.consents import ConsentService
from broker.mydata.export import SubjectExporter
from broker.runtime import BrokerRuntime
from broker.sharing.service import ShareService


def get_runtime(request: Request) -> BrokerRuntime:
    """The runtime built by create_app."""
    runtime: BrokerRuntime = request.app.state.runtime
    return runtime


def get_share_service(request: Request) -> ShareService:
    """The share service of this app."""
    service: ShareService = request.app.state.share_service
    return service


def get_consent_service(request: Request) -> ConsentService:
    """The consent service of this app (the share service's, so both see the same consents)."""
    service: ShareService = request.app.state.share_service
    return service.consents


def get_subject_exporter(request: Request) -> SubjectExporter:
    """The service that gives people their own data."""
    exporter: SubjectExporter = request.app.state.subject_exporter
    return exporter


Runtime = Annotated[BrokerRuntime, Depends(get_runtime)]
Shares = Annotated[ShareService, Depends(get_share_service)]
Consents = Annotated[ConsentService, Depends(get_consent_service)]
Exporter = Annotated[SubjectExporter, Depends(get_subject_exporter)]


def authenticate(request: Request, runtime: Runtime) -> Principal:
    """Verify the bearer token (one token, one request) and apply the partner's rate limit."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("missing_token")
    principal = runtime.verifier.verify(token.strip())
    request.app.state.rate_limiter.check(principal.partner_id)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require_operator(principal: CurrentPrincipal) -> Principal:
    """Only operators (kind operator with the operator role) pass."""
    if principal.kind != "operator" or not principal.has_role("operator"):
        raise Forbidden("this endpoint is for operators")
    return principal


def require_citizen(principal: CurrentPrincipal) -> Principal:
    """Only citizens signed in through the citizen portal pass; `sub` is their identity code."""
    if principal.kind != "citizen_portal":
        raise Forbidden("this endpoint is for citizens signed in through the citizen portal")
    return principal


def require_partner(principal: CurrentPrincipal) -> Principal:
    """Agencies and statistics offices: the callers that receive shares."""
    if principal.kind not in ("agency", "statistics"):
        raise Forbidden("this endpoint is for partner agencies")
    return principal


def require_partner_or_operator(principal: CurrentPrincipal) -> Principal:
    """Partner agencies, statistics offices and operators; citizens' tokens never pass."""
    if principal.kind not in ("agency", "statistics", "operator"):
        raise Forbidden("this endpoint is for partner agencies and operators")
    return principal


Operator = Annotated[Principal, Depends(require_operator)]
Citizen = Annotated[Principal, Depends(require_citizen)]
Partner = Annotated[Principal, Depends(require_partner)]
PartnerOrOperator = Annotated[Principal, Depends(require_partner_or_operator)]
