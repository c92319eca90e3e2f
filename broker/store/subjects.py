"""Subject keys: a keyed hash of a personal identity code, so indexes never hold the code."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"tillit/subject-index/v1"


def subject_index_key(master_key: bytes) -> bytes:
    """The key of the disclosure index, derived from (and independent of) the pseudonym key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master_key)


class SubjectKeys:
    """Turns identity codes into subject keys with one precomputed HMAC state."""

    def __init__(self, index_key: bytes) -> None:
        self._base = hmac.new(index_key, digestmod=hashlib.sha256)

    def key(self, identity_code: str) -> str:
        """The subject key of one identity code (normalised to upper case)."""
        mac = self._base.copy()
        mac.update(identity_code.strip().upper().encode())
        return mac.hexdigest()

    def keys(self, identity_codes: Iterable[str | None]) -> list[str | None]:
        """Subject keys of many codes; missing codes stay missing."""
        return [None if code is None else self.key(code) for code in identity_codes]
