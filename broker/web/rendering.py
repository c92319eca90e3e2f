"""Rendering the pages: autoescaping Jinja2 templates and the headers every page carries."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse, Response

# No scripts, no inline styles, no third-party anything: only our stylesheet and our forms.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STYLESHEET_PATH = "/assets/tillit.css"


@cache
def environment() -> jinja2.Environment:
    """The template environment; autoescape is on for every template, undefined names fail."""
    from broker.web.leaders import nav_link_text

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("broker.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["indicators_link"] = nav_link_text
    return env


def render_page(
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    private: bool = False,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """An HTML page; `private` pages (a person's data) are never stored by any cache."""
    body = environment().get_template(template).render(stylesheet=STYLESHEET_PATH, **context)
    all_headers = {**SECURITY_HEADERS, **(headers or {})}
    if private:
        all_headers["Cache-Control"] = "no-store"
    return HTMLResponse(body, status_code=status_code, headers=all_headers)


@cache
def _stylesheet() -> bytes:
    return (resources.files("broker.web") / "static" / "tillit.css").read_bytes()


def stylesheet_response() -> Response:
    """The one stylesheet of the pages."""
    return Response(
        _stylesheet(),
        media_type="text/css",
        headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"},
    )
