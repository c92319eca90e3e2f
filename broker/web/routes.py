"""The broker's web pages: the public catalog, the citizens' sign-in and their rights page."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from broker.auth.principal import Principal
from broker.deps import Runtime
from broker.errors import AuthenticationError, Forbidden
from broker.runtime import BrokerRuntime
from broker.web.i18n import Locale, locales, negotiate
from broker.web.rendering import render_page, stylesheet_response
from broker.web.views import catalog_view

router = APIRouter(tags=["pages"], include_in_schema=False)

# The catalog is written in English, as the contracts and agreements it shows are.
CATALOG_CHROME = {
    "skip_to_content": "Skip to content",
    "site_name": "Tillit – data catalog",
    "language_switcher": "Language",
    "sign_in_title": "Who has received my data?",
}


def page_locale(request: Request, lang: Annotated[str | None, Query()] = None) -> Locale:
    """The reader's language: `?lang=fi|sv|en`, else Accept-Language, else Finnish."""
    return locales()[negotiate(lang, request.headers.get("accept-language"))]


PageLocale = Annotated[Locale, Depends(page_locale)]


def citizen_context(locale: Locale, path: str, title: str) -> dict[str, Any]:
    """What every citizens' page template needs: language, strings and the switcher."""
    return {
        "lang": locale.code,
        "title": title,
        "ui": locale.ui,
        "chrome": locale.ui,
        "languages": list(locales().values()),
        "switcher_path": path,
    }


def verify_page_token(
    request: Request, runtime: BrokerRuntime, token: str, kinds: Collection[str], refusal: str
) -> Principal:
    """Verify a token pasted into a page exactly as the API does: once, rate-limited, and only
    for the kinds of principal the page serves (``refusal`` says who it is for otherwise)."""
    token = token.strip()
    if not token:
        raise AuthenticationError("missing_token")
    principal = runtime.verifier.verify(token)
    request.app.state.rate_limiter.check(principal.partner_id)
    if principal.kind not in kinds:
        raise Forbidden(refusal)
    return principal


def sign_in(request: Request, runtime: BrokerRuntime, token: str) -> Principal:
    """Sign a citizen in with a citizen-portal token."""
    return verify_page_token(
        request,
        runtime,
        token,
        ("citizen_portal",),
        "this page is for citizens signed in through the citizen portal",
    )


@router.get("/catalog", response_class=HTMLResponse)
def catalog_page(runtime: Runtime) -> HTMLResponse:
    """Every dataset, its fields and classifications, and who may use it for what."""
    context = {
        "lang": "en",
        "title": "Data catalog",
        "chrome": CATALOG_CHROME,
        "switcher_path": None,
        "datasets": catalog_view(runtime),
        "today": runtime.now().date(),
    }
    return render_page("catalog.html", context)


@router.get("/me", response_class=HTMLResponse)
def sign_in_page(locale: PageLocale) -> HTMLResponse:
    """The citizen's sign-in form: paste the single-use token from the citizen portal."""
    context = citizen_context(locale, "/me", locale.ui["sign_in_title"])
    return render_page("me_sign_in.html", {**context, "error": None}, private=True)


@router.get("/me/rights", response_class=HTMLResponse)
def rights_page(locale: PageLocale) -> HTMLResponse:
    """How to object to (GDPR Art. 21) or restrict (Art. 18) the processing of one's data."""
    context = citizen_context(locale, "/me/rights", locale.ui["rights_title"])
    return render_page("rights.html", context, private=True)


@router.get("/assets/tillit.css")
def stylesheet() -> Response:
    """The pages' stylesheet, served by the broker itself (no external assets)."""
    return stylesheet_response()
