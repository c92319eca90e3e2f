"""The citizen's page session: a sealed, short-lived value carried only in the page's forms.

Signing in spends the portal's single-use token; the page then carries a Fernet-sealed
session (subject, partner, issuer, token id, expiry) in a hidden field of each of its forms.
It is never a cookie and never in a URL, so another site cannot make the browser send it:
every form that changes or downloads something needs it, which is what protects the forms
against cross-site request forgery. Requests whose Origin or Sec-Fetch-Site says another
site sent them are refused as well.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Request

from broker.auth.principal import Principal
from broker.errors import AuthenticationError, Forbidden

SESSION_LIFETIME = timedelta(minutes=15)


class PageSessions:
    """Seals and opens page sessions with a key derived from the broker's master key."""

    def __init__(self, master_key: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tillit/page-session/v1")
        self._fernet = Fernet(base64.urlsafe_b64encode(key.derive(master_key)))

    def issue(self, principal: Principal, now: datetime) -> str:
        """A session for the signed-in citizen, valid for SESSION_LIFETIME from `now`."""
        payload = {
            "s": principal.subject,
            "p": principal.partner_id,
            "i": principal.issuer,
            "j": principal.jti,
            "c": principal.client_id,
            "r": list(principal.roles),
        }
        return self._fernet.encrypt_at_time(
            json.dumps(payload).encode(), int(now.timestamp())
        ).decode()

    def open(self, sealed: str, now: datetime) -> Principal:
        """The citizen a session belongs to; 401 when it is forged, altered or expired."""
        try:
            raw = self._fernet.decrypt_at_time(
                sealed.encode(), int(SESSION_LIFETIME.total_seconds()), int(now.timestamp())
            )
            issued = self._fernet.extract_timestamp(sealed.encode())
            payload = json.loads(raw)
            return Principal(
                partner_id=str(payload["p"]),
                kind="citizen_portal",
                roles=tuple(str(role) for role in payload["r"]),
                subject=str(payload["s"]),
                issuer=str(payload["i"]),
                jti=str(payload["j"]),
                client_id=str(payload["c"]),
                expires_at=datetime.fromtimestamp(issued, tz=UTC) + SESSION_LIFETIME,
            )
        except (InvalidToken, ValueError, KeyError, TypeError):
            raise AuthenticationError("invalid_token") from None


def refuse_cross_site(request: Request) -> None:
    """403 for a form that another site made the browser send."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden("forms of this page are accepted only from the page itself")
    origin = request.headers.get("origin")
    # Under the pages' no-referrer policy browsers send `Origin: null` even from the page
    # itself; Sec-Fetch-Site and the sealed session still tell the page's own forms apart.
    if origin is None or origin == "null":
        return
    host = request.headers.get("host", "")
    if origin != f"{request.url.scheme}://{host}":
        raise Forbidden("forms of this page are accepted only from the page itself")
