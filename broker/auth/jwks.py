"""Issuer key sets: loaded from file or URI, cached, and refreshed at a bounded rate."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from broker.auth.clock import Clock
from broker.config.jwks import MAX_JWKS_BYTES, JwksError, parse_jwks_bytes
from broker.config.models import Partner
from broker.errors import AuthenticationError, ServiceUnavailable

logger = logging.getLogger(__name__)

JwkSet = Mapping[str, Mapping[str, Any]]


class KeyNotCached(Exception):  # noqa: N818 - a signal to retry where fetching is allowed
    """The key is not in the cache, and the caller asked not to fetch it here."""


class JwksFetcher(Protocol):
    """Fetches and parses a partner's current key set; raises JwksError or OSError on failure."""

    def __call__(self, partner: Partner) -> JwkSet: ...


class DefaultJwksFetcher:
    """Reads `jwks_file`, or GETs `jwks_uri` with a timeout and without following redirects."""

    def __init__(self, timeout_seconds: float = 5.0, client: httpx.Client | None = None) -> None:
        # Redirects are not followed: the configured URI is the trust anchor.
        self._client = client or httpx.Client(timeout=timeout_seconds, follow_redirects=False)

    def __call__(self, partner: Partner) -> JwkSet:
        """Fetch and parse the partner's key set."""
        if partner.jwks_file is not None:
            return parse_jwks_bytes(partner.jwks_file.read_bytes())
        if partner.jwks_uri is None:
            raise JwksError(f"partner {partner.id} has no key source")
        try:
            with self._client.stream("GET", partner.jwks_uri) as response:
                if response.status_code != httpx.codes.OK:
                    raise JwksError(f"JWKS endpoint answered {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_JWKS_BYTES:
                        raise JwksError("JWKS response too large")
        except httpx.HTTPError as exc:
            raise JwksError(f"JWKS fetch failed: {type(exc).__name__}") from None
        return parse_jwks_bytes(bytes(body))


@dataclass
class _IssuerKeys:
    keys: JwkSet | None = None
    last_attempt: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class JwksProvider:
    """Per-issuer key cache; an unknown kid causes at most one refresh per interval per issuer."""

    def __init__(self, fetcher: JwksFetcher, clock: Clock, min_refresh_interval: float) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._interval = min_refresh_interval
        self._issuers: dict[str, _IssuerKeys] = {}
        self._guard = threading.Lock()

    def _state(self, issuer: str) -> _IssuerKeys:
        with self._guard:
            return self._issuers.setdefault(issuer, _IssuerKeys())

    def _refresh(self, partner: Partner, state: _IssuerKeys) -> None:
        """Fetch a new key set; on failure keep the last good one (if any)."""
        state.last_attempt = self._clock()
        try:
            state.keys = self._fetcher(partner)
        except (JwksError, OSError) as exc:
            logger.warning("JWKS refresh for partner %s failed: %s", partner.id, exc)

    def key(self, partner: Partner, kid: str, *, fetch: bool = True) -> Mapping[str, Any]:
        """The issuer's public JWK with this kid; refresh (rate-limited) if it is not known.

        With ``fetch=False`` only a cached key is returned, never waited for: any other case
        raises KeyNotCached, for the caller to ask again where a fetch may block.
        """
        state = self._state(partner.issuer)
        # Fast path without the lock: key sets are replaced whole, never mutated, so a reader
        # sees either the old or the new set, and known kids never wait behind a slow fetch.
        keys = state.keys
        if keys is not None and kid in keys:
            return keys[kid]
        if not fetch:
            raise KeyNotCached(kid)
        with state.lock:
            now = self._clock()
            known = state.keys is not None and kid in state.keys
            due = state.last_attempt is None or now - state.last_attempt >= self._interval
            if not known and due:
                self._refresh(partner, state)
            keys = state.keys
        if keys is None:
            raise ServiceUnavailable("the issuer's keys cannot be loaded right now")
        jwk = keys.get(kid)
        if jwk is None:
            raise AuthenticationError("unknown_key")
        return jwk
