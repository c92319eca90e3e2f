"""Subject keys: a keyed hash of a personal identity code, so indexes never hold the code."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from broker.privacy.keyed_hash import HmacSha256

_INFO = b"tillit/subject-index/v1"


def subject_index_key(master_key: bytes) -> bytes:
    """The key of the disclosure index, derived from (and independent of) the pseudonym key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master_key)


class SubjectKeys:
    """Turns identity codes into subject keys (HMAC-SHA256 under the index key)."""

    def __init__(self, index_key: bytes) -> None:
        self._hmac = HmacSha256(index_key)

    def key(self, identity_code: str) -> str:
        """The subject key of one identity code (normalised to upper case)."""
        return self._hmac.hexdigest(identity_code.strip().upper().encode())

    def keys(self, identity_codes: Iterable[str | None]) -> list[str | None]:
        """Subject keys of many codes; missing codes stay missing."""
        return self._hmac.hexdigests(
            None if code is None else code.strip().upper().encode() for code in identity_codes
        )
