"""The signed-in citizen's page: disclosures, their own data, and their consents."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from broker.auth.principal import Principal
from broker.deps import Consents, Exporter, Runtime
from broker.errors import (
    AuthenticationError,
    Forbidden,
    InvalidRequest,
    RateLimited,
    TillitError,
)
from broker.mydata.consents import ConsentGrant
from broker.mydata.formats import CSV_MEDIA, JSON_MEDIA, export_csv, export_document
from broker.runtime import BrokerRuntime
from broker.web.i18n import Locale
from broker.web.mydata import consent_offers, consent_views, dataset_choices, dataset_view
from broker.web.rendering import SECURITY_HEADERS, render_page
from broker.web.routes import PageLocale, citizen_context, sign_in
from broker.web.session import PageSessions, refuse_cross_site
from broker.web.views import disclosures_view

router = APIRouter(tags=["pages"], include_in_schema=False)
# Enough for a consent form ticking every field of an agreement; anything longer is refused.
MAX_FORM_FIELDS = 80
Form = list[tuple[str, str]]


async def form_pairs(request: Request) -> Form:
    """The fields of a urlencoded form in order; any other body counts as an empty form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return []
    try:
        text = (await request.body()).decode("utf-8")
        return parse_qsl(text, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return []


FormPairs = Annotated[Form, Depends(form_pairs)]


def first_field(form: Form, name: str) -> str:
    """The first value a form gives ``name``, or an empty string."""
    return next((value for key, value in form if key == name), "")


def _sessions(runtime: BrokerRuntime) -> PageSessions:
    return PageSessions(runtime.secrets.pseudonym_key)


def _resume(request: Request, runtime: BrokerRuntime, form: Form) -> tuple[Principal, str]:
    """The citizen of a page session, refusing forms sent from other sites."""
    refuse_cross_site(request)
    sealed = first_field(form, "session")
    principal = _sessions(runtime).open(sealed, runtime.now())
    request.app.state.rate_limiter.check(principal.partner_id)
    return principal, sealed


def _sign_in_failed(locale: Locale, error: TillitError) -> HTMLResponse:
    # The token is never echoed back: the form comes back empty with the reason.
    status = error.status if error.status in (401, 403, 429) else 401
    context = citizen_context(locale, "/me", locale.ui["error_title"])
    headers = {"Retry-After": error.headers["Retry-After"]} if status == 429 else {}
    return render_page(
        "me_sign_in.html",
        {**context, "error": locale.ui[f"error_{status}"]},
        status_code=status,
        private=True,
        headers=headers,
    )


def me_page(
    runtime: BrokerRuntime,
    consents: Consents,
    exporter: Exporter,
    locale: Locale,
    principal: Principal,
    session: str,
    *,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The page of one signed-in citizen."""
    context = citizen_context(locale, "/me", locale.ui["disclosures_title"])
    context |= {
        "disclosures": disclosures_view(runtime, principal.subject, locale),
        "session": session,
        "my_datasets": dataset_choices(exporter.datasets(), locale),
        "consents": consent_views(consents, principal, locale),
        "offers": consent_offers(runtime, locale),
        "message": message,
        "action_error": error,
    }
    return render_page("me.html", context, status_code=status_code, private=True)


@router.post("/me", response_class=HTMLResponse)
def citizen_page(
    request: Request,
    runtime: Runtime,
    consents: Consents,
    exporter: Exporter,
    locale: PageLocale,
    form: FormPairs,
) -> HTMLResponse:
    """Sign in with a portal token (or continue a page session) and show the citizen's page."""
    try:
        if first_field(form, "session"):
            principal, session = _resume(request, runtime, form)
        else:
            principal = sign_in(request, runtime, first_field(form, "token"))
            session = _sessions(runtime).issue(principal, runtime.now())
    except (AuthenticationError, Forbidden, RateLimited) as error:
        return _sign_in_failed(locale, error)
    return me_page(runtime, consents, exporter, locale, principal, session)


@router.post("/me/data", response_model=None)
def my_data_page(
    request: Request,
    runtime: Runtime,
    consents: Consents,
    exporter: Exporter,
    locale: PageLocale,
    form: FormPairs,
) -> Response:
    """View one dataset of one's own data, or download it as JSON or CSV (audited either way)."""
    try:
        principal, session = _resume(request, runtime, form)
    except (AuthenticationError, Forbidden, RateLimited) as error:
        return _sign_in_failed(locale, error)
    how, dataset = first_field(form, "format"), first_field(form, "dataset")
    try:
        if how not in ("html", "json", "csv") or not dataset:
            raise InvalidRequest("choose a dataset and a format")
        export = exporter.export(principal, dataset)
    except TillitError as error:
        return me_page(
            runtime, consents, exporter, locale, principal, session,
            error=locale.ui["action_error"], status_code=error.status,
        )  # fmt: skip
    if how == "html":
        view = dataset_view(runtime, export.datasets[0], locale)
        context = citizen_context(locale, "/me", view.name)
        return render_page(
            "my_data.html", {**context, "dataset": view, "session": session}, private=True
        )
    headers = {
        **SECURITY_HEADERS,
        "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="tillit-{dataset}.{how}"',
    }
    if how == "csv":
        return Response(export_csv(export), media_type=CSV_MEDIA, headers=headers)
    body = json.dumps(export_document(export), ensure_ascii=False, indent=2)
    return Response(body, media_type=JSON_MEDIA, headers=headers)


def _grant(runtime: BrokerRuntime, form: Form) -> ConsentGrant:
    """The consent a grant form asks for, by the agreement and purpose it names."""
    agreement_id, _, purpose = first_field(form, "agreement").partition(":")
    agreement = next((a for a in runtime.config.agreements if a.id == agreement_id), None)
    if agreement is None or not agreement.requires_consent:
        raise InvalidRequest("no such consent agreement", code="no_consent_agreement")
    try:
        valid_until = date.fromisoformat(first_field(form, "valid_until"))
    except ValueError:
        raise InvalidRequest("valid_until must be a date", code="invalid_valid_until") from None
    fields = tuple(dict.fromkeys(value for key, value in form if key == "field"))
    if not fields:
        raise InvalidRequest("choose at least one field", code="fields_not_in_agreement")
    return ConsentGrant(agreement.partner, agreement.dataset, purpose, fields, valid_until)


def _consent_action(
    request: Request,
    runtime: BrokerRuntime,
    consents: Consents,
    exporter: Exporter,
    locale: Locale,
    form: Form,
    act: Callable[[Principal], object],
    *,
    done: str,
    failed: str,
) -> HTMLResponse:
    """Resume the page session, act on the person's consents, and show the page again."""
    try:
        principal, session = _resume(request, runtime, form)
    except (AuthenticationError, Forbidden, RateLimited) as error:
        return _sign_in_failed(locale, error)
    try:
        act(principal)
    except TillitError as error:
        return me_page(
            runtime, consents, exporter, locale, principal, session,
            error=locale.ui[failed], status_code=error.status,
        )  # fmt: skip
    return me_page(runtime, consents, exporter, locale, principal, session, message=locale.ui[done])


@router.post("/me/consents", response_class=HTMLResponse)
def grant_consent_page(
    request: Request,
    runtime: Runtime,
    consents: Consents,
    exporter: Exporter,
    locale: PageLocale,
    form: FormPairs,
) -> HTMLResponse:
    """Give a consent from the page; recorded and audited exactly as through the API."""
    return _consent_action(
        request, runtime, consents, exporter, locale, form,
        lambda principal: consents.grant(principal, _grant(runtime, form)),
        done="consent_granted", failed="consent_error",
    )  # fmt: skip


@router.post("/me/consents/revoke", response_class=HTMLResponse)
def revoke_consent_page(
    request: Request,
    runtime: Runtime,
    consents: Consents,
    exporter: Exporter,
    locale: PageLocale,
    form: FormPairs,
) -> HTMLResponse:
    """Revoke one of one's own consents from the page; another person's is not found."""
    return _consent_action(
        request, runtime, consents, exporter, locale, form,
        lambda principal: consents.revoke(principal, first_field(form, "consent_id")[:64]),
        done="consent_revoked", failed="action_error",
    )  # fmt: skip
