"""The leaders' page: goals and indicators for everyone, numbers for a signed-in partner whose
agreement covers them (released as an audited share, exactly as ``GET /v1/indicators``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from broker.auth.principal import Principal
from broker.deps import Runtime, Shares
from broker.errors import AuthenticationError, Forbidden, PolicyDenied, RateLimited
from broker.indicators import release_indicators
from broker.runtime import BrokerRuntime
from broker.web.citizen import FormPairs, first_field
from broker.web.i18n import Locale, locales
from broker.web.leaders import goal_views, indicator_locales
from broker.web.rendering import render_page
from broker.web.routes import PageLocale, verify_page_token
from contracts.datasets.indicators import DAYCARE_WITHIN_FOUR_MONTHS
from contracts.leaders import all_goals, all_indicators

router = APIRouter(tags=["pages"], include_in_schema=False)

# The page releases for knowledge management on the act that allows it; the policy engine
# still decides whether the signed-in partner's agreement covers that.
PURPOSE = "knowledge_management"
LEGAL_BASIS = "secondary_use_act_552_2019"
PARTNER_KINDS = ("agency", "statistics")


def _context(locale: Locale, **extra: Any) -> dict[str, Any]:
    page = indicator_locales()[locale.code]
    return {
        "lang": locale.code,
        "title": page.ui["title"],
        "ui": page.ui,
        "chrome": {**locale.ui, "site_name": page.ui["site_name"]},
        "languages": list(locales().values()),
        "switcher_path": "/indicators",
        "intro": page.ui["intro"].format(threshold=DAYCARE_WITHIN_FOUR_MONTHS.min_cell_size),
        "error": None,
        **extra,
    }


def _sign_in(request: Request, runtime: BrokerRuntime, token: str) -> Principal:
    """Sign a partner agency in; only partners' agreements can release the numbers."""
    return verify_page_token(
        request, runtime, token, PARTNER_KINDS, "this page releases numbers to partner agencies"
    )


@router.get("/indicators", response_class=HTMLResponse)
def indicators_page(runtime: Runtime, locale: PageLocale) -> HTMLResponse:
    """The goals, their indicators, targets, contracts and lineage, and the sign-in form."""
    goals = goal_views(all_goals(), locale.code, runtime.engine, runtime.now())
    return render_page("indicators.html", _context(locale, goals=goals, released=False))


@router.post("/indicators", response_class=HTMLResponse)
def indicators_released(
    request: Request, runtime: Runtime, shares: Shares, locale: PageLocale, form: FormPairs
) -> HTMLResponse:
    """The indicators with their numbers, released to the signed-in partner (audited)."""
    ui = indicator_locales()[locale.code].ui
    try:
        principal = _sign_in(request, runtime, first_field(form, "token"))
        releases = release_indicators(
            shares, principal, all_indicators(), purpose=PURPOSE, legal_basis=LEGAL_BASIS
        )
    except (AuthenticationError, Forbidden, RateLimited) as error:
        code = error.code if isinstance(error, PolicyDenied) else ""
        goals = goal_views(all_goals(), locale.code, runtime.engine, runtime.now())
        context = _context(
            locale,
            goals=goals,
            released=False,
            error=ui[f"error_{error.status}"].format(code=code or error.status),
        )
        headers = {"Retry-After": error.headers["Retry-After"]} if error.status == 429 else {}
        return render_page(
            "indicators.html", context, status_code=error.status, private=True, headers=headers
        )
    partner = runtime.config.partners[principal.partner_id].name
    goals = goal_views(all_goals(), locale.code, runtime.engine, runtime.now(), releases, partner)
    return render_page(
        "indicators.html", _context(locale, goals=goals, released=True), private=True
    )
