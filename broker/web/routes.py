"""The broker's web pages: the public catalog and citizens' "who received my data" page."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from broker.auth.principal import Principal
from broker.deps import Runtime
from broker.errors import AuthenticationError, Forbidden, RateLimited
from broker.runtime import BrokerRuntime
from broker.web.i18n import Locale, locales, negotiate
from broker.web.rendering import render_page, stylesheet_response
from broker.web.views import catalog_view, disclosures_view

router = APIRouter(tags=["pages"], include_in_schema=False)

# The catalog is written in English, as the contracts and agreements it shows are.
CATALOG_CHROME = {
    "skip_to_content": "Skip to content",
    "site_name": "Tillit – data catalog",
    "language_switcher": "Language",
    "sign_in_title": "Who has received my data?",
}
MAX_FORM_FIELDS = 4


def page_locale(request: Request, lang: Annotated[str | None, Query()] = None) -> Locale:
    """The reader's language: `?lang=fi|sv|en`, else Accept-Language, else Finnish."""
    return locales()[negotiate(lang, request.headers.get("accept-language"))]


PageLocale = Annotated[Locale, Depends(page_locale)]


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a urlencoded form; any other body counts as an empty form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    try:
        text = (await request.body()).decode("utf-8")
        return dict(parse_qsl(text, max_num_fields=MAX_FORM_FIELDS))
    except (UnicodeDecodeError, ValueError):
        return {}


FormFields = Annotated[dict[str, str], Depends(form_fields)]


def _citizen_context(locale: Locale, path: str, title: str) -> dict[str, Any]:
    return {
        "lang": locale.code,
        "title": title,
        "ui": locale.ui,
        "chrome": locale.ui,
        "languages": list(locales().values()),
        "switcher_path": path,
    }


def _sign_in(request: Request, runtime: BrokerRuntime, token: str) -> Principal:
    """Verify a citizen-portal token exactly as the API does: once, rate-limited, citizens only."""
    token = token.strip()
    if not token:
        raise AuthenticationError("missing_token")
    principal = runtime.verifier.verify(token)
    request.app.state.rate_limiter.check(principal.partner_id)
    if principal.kind != "citizen_portal":
        raise Forbidden("this page is for citizens signed in through the citizen portal")
    return principal


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
    context = _citizen_context(locale, "/me", locale.ui["sign_in_title"])
    return render_page("me_sign_in.html", {**context, "error": None}, private=True)


@router.post("/me", response_class=HTMLResponse)
def disclosures_page(
    request: Request, runtime: Runtime, locale: PageLocale, form: FormFields
) -> HTMLResponse:
    """Who received data about the signed-in citizen, when, why and on what legal basis."""
    try:
        principal = _sign_in(request, runtime, form.get("token", ""))
    except (AuthenticationError, Forbidden, RateLimited) as error:
        # The token is never echoed back: the form comes back empty with the reason.
        context = _citizen_context(locale, "/me", locale.ui["error_title"])
        headers = {"Retry-After": error.headers["Retry-After"]} if error.status == 429 else {}
        return render_page(
            "me_sign_in.html",
            {**context, "error": locale.ui[f"error_{error.status}"]},
            status_code=error.status,
            private=True,
            headers=headers,
        )
    context = _citizen_context(locale, "/me", locale.ui["disclosures_title"])
    rows = disclosures_view(runtime, principal.subject, locale)
    return render_page("me.html", {**context, "disclosures": rows}, private=True)


@router.get("/me/rights", response_class=HTMLResponse)
def rights_page(locale: PageLocale) -> HTMLResponse:
    """How to object to (GDPR Art. 21) or restrict (Art. 18) the processing of one's data."""
    context = _citizen_context(locale, "/me/rights", locale.ui["rights_title"])
    return render_page("rights.html", context, private=True)


@router.get("/assets/tillit.css")
def stylesheet() -> Response:
    """The pages' stylesheet, served by the broker itself (no external assets)."""
    return stylesheet_response()
