"""HMAC-SHA256 of many short values with the key's pads hashed once (RFC 2104, by hand).

``hmac.new`` re-derives the padded key for every value, and copying an ``hmac.HMAC`` or a
``cryptography`` HMAC goes through Python-level wrappers; copying two keyed ``hashlib`` states
costs a fraction of either, which matters when a share hashes every released row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

_BLOCK = 64  # SHA-256 block size in bytes
_INNER = bytes(0x36 for _ in range(_BLOCK))
_OUTER = bytes(0x5C for _ in range(_BLOCK))


def _padded(key: bytes, pad: bytes) -> bytes:
    return bytes(k ^ p for k, p in zip(key, pad, strict=True))


class HmacSha256:
    """HMAC-SHA256 under one key, identical to ``hmac.new(key, value, hashlib.sha256)``."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        block = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(_padded(block, _INNER))
        self._outer = hashlib.sha256(_padded(block, _OUTER))

    def __repr__(self) -> str:
        return "HmacSha256(<key hidden>)"

    def hexdigest(self, data: bytes) -> str:
        """Lower-case hex HMAC of one value."""
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def hexdigests(self, values: Iterable[bytes | None]) -> list[str | None]:
        """Lower-case hex HMACs of many values, in order; a missing value (None) stays None."""
        inner_copy, outer_copy = self._inner.copy, self._outer.copy
        digests: list[str | None] = []
        append = digests.append
        for data in values:
            if data is None:
                append(None)
                continue
            inner = inner_copy()
            inner.update(data)
            outer = outer_copy()
            outer.update(inner.digest())
            append(outer.hexdigest())
        return digests
