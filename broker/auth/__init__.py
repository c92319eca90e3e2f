"""Authentication of partners by RFC 9068 access tokens, verified per RFC 8725."""

from broker.auth.clock import Clock, system_clock
from broker.auth.jwks import DefaultJwksFetcher, JwksFetcher, JwksProvider
from broker.auth.principal import Principal
from broker.auth.replay import InMemoryReplayCache, ReplayCache
from broker.auth.verifier import TokenVerifier

__all__ = [
    "Clock",
    "DefaultJwksFetcher",
    "InMemoryReplayCache",
    "JwksFetcher",
    "JwksProvider",
    "Principal",
    "ReplayCache",
    "TokenVerifier",
    "system_clock",
]
