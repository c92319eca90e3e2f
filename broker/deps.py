"""FastAPI dependencies: the runtime, the authenticated principal and role requirements.

Dependencies that only read app state or the principal are `async def`: FastAPI runs them on
the event loop, where a plain `def` would cost a hop to the thread pool on every request.
Anything that touches the database or the network runs in the thread pool, so it never
blocks the loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from broker.api.audit_groups import AuditGroups
from broker.api.limits import ShareLane
from broker.auth.jwks import KeyNotCached
from broker.auth.principal import Principal
from broker.auth.verifier import TokenUse
from broker.errors import AuthenticationError, Forbidden
from broker.mydata.consents import ConsentService
from broker.mydata.export import SubjectExporter
from broker.runtime import BrokerRuntime
from broker.sharing.service import ShareService


async def get_runtime(request: Request) -> BrokerRuntime:
    """The runtime built by create_app."""
    runtime: BrokerRuntime = request.app.state.runtime
    return runtime


async def get_share_service(request: Request) -> ShareService:
    """The share service of this app."""
    service: ShareService = request.app.state.share_service
    return service


async def get_consent_service(request: Request) -> ConsentService:
    """The consent service of this app (the share service's, so both see the same consents)."""
    service: ShareService = request.app.state.share_service
    return service.consents


async def get_subject_exporter(request: Request) -> SubjectExporter:
    """The service that gives people their own data."""
    exporter: SubjectExporter = request.app.state.subject_exporter
    return exporter


async def get_audit_groups(request: Request) -> AuditGroups:
    """The groups this worker audits the pages it prepares on its event loop in."""
    groups: AuditGroups = request.app.state.audit_groups
    return groups


async def get_share_lane(request: Request) -> ShareLane:
    """The threads this worker serves shares in."""
    lane: ShareLane = request.app.state.share_lane
    return lane


Runtime = Annotated[BrokerRuntime, Depends(get_runtime)]
Lane = Annotated[ShareLane, Depends(get_share_lane)]
Groups = Annotated[AuditGroups, Depends(get_audit_groups)]
Shares = Annotated[ShareService, Depends(get_share_service)]
Consents = Annotated[ConsentService, Depends(get_consent_service)]
Exporter = Annotated[SubjectExporter, Depends(get_subject_exporter)]


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("missing_token")
    return token.strip()


def _admit(request: Request, principal: Principal) -> None:
    request.app.state.rate_limiter.check(principal.partner_id)
    request.state.principal = principal


def authenticate(request: Request, runtime: Runtime) -> Principal:
    """Verify the bearer token (one token, one request) and apply the partner's rate limit."""
    principal = runtime.verifier.verify(_bearer_token(request))
    _admit(request, principal)
    return principal


async def authenticate_audited(request: Request, runtime: Runtime) -> AsyncIterator[Principal]:
    """`authenticate` for routes that write the audit log: the token's id is spent inside
    the route's audit transaction (see `token_use`), one write fewer per request.

    Whatever the route does without spending it (an error, an idempotent replay, a body that
    fails validation), the id is spent here on the way out, before any response is sent: one
    token still authorises exactly one request.
    """
    token = _bearer_token(request)
    try:
        # On the event loop when the issuer's key is cached: the check is a few hundred
        # microseconds of CPU, less than a hop to the thread pool and back costs.
        principal, use = runtime.verifier.check(token, fetch_keys=False)
    except KeyNotCached:
        # In the thread pool: the key may have to be fetched over the network.
        principal, use = await run_in_threadpool(runtime.verifier.check, token)
    request.state.token_use = use
    try:
        _admit(request, principal)
        yield principal
    finally:
        if not use.spent:
            await run_in_threadpool(use.spend)


def token_use(request: Request) -> TokenUse:
    """The use of the token `authenticate_audited` verified for this request."""
    use: TokenUse = request.state.token_use
    return use


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


async def require_operator(principal: CurrentPrincipal) -> Principal:
    """Only operators (kind operator with the operator role) pass."""
    if principal.kind != "operator" or not principal.has_role("operator"):
        raise Forbidden("this endpoint is for operators")
    return principal


async def require_citizen(principal: CurrentPrincipal) -> Principal:
    """Only citizens signed in through the citizen portal pass; `sub` is their identity code."""
    if principal.kind != "citizen_portal":
        raise Forbidden("this endpoint is for citizens signed in through the citizen portal")
    return principal


def _partner_only(principal: Principal) -> Principal:
    if principal.kind not in ("agency", "statistics"):
        raise Forbidden("this endpoint is for partner agencies")
    return principal


async def require_partner(principal: CurrentPrincipal) -> Principal:
    """Agencies and statistics offices: the callers that receive shares."""
    return _partner_only(principal)


async def require_partner_audited(
    principal: Annotated[Principal, Depends(authenticate_audited, scope="function")],
) -> Principal:
    """`require_partner` whose token is spent in the route's audit transaction."""
    return _partner_only(principal)


async def require_partner_or_operator(principal: CurrentPrincipal) -> Principal:
    """Partner agencies, statistics offices and operators; citizens' tokens never pass."""
    if principal.kind not in ("agency", "statistics", "operator"):
        raise Forbidden("this endpoint is for partner agencies and operators")
    return principal


Operator = Annotated[Principal, Depends(require_operator)]
Citizen = Annotated[Principal, Depends(require_citizen)]
Partner = Annotated[Principal, Depends(require_partner)]
AuditedPartner = Annotated[Principal, Depends(require_partner_audited)]
PartnerOrOperator = Annotated[Principal, Depends(require_partner_or_operator)]
