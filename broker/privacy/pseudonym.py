"""Keyed pseudonyms: HMAC-SHA256 under a key derived per (partner, purpose), so pseudonyms are
stable for one partner and purpose and cannot be linked across partners or purposes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from broker.privacy.keyed_hash import HmacSha256

MIN_KEY_BYTES: Final = 32
# Fixed, Tillit-specific HKDF parameters: the salt separates Tillit's keys from any other use
# of the same master secret, the versioned info label from other Tillit key purposes.
_HKDF_SALT: Final = b"tillit.fi/pseudonym-key/salt/v1"
_HKDF_INFO: Final = b"tillit pseudonym key v1\x00"


def _length_prefixed(text: str) -> bytes:
    """Length-prefixed UTF-8, so ("ab", "c") and ("a", "bc") never give the same info."""
    data = text.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def derive_partner_key(master_key: bytes, partner: str, purpose: str) -> bytes:
    """The 32-byte pseudonym key of one (partner, purpose), by HKDF-SHA256 from the master key."""
    if len(master_key) < MIN_KEY_BYTES:
        raise ValueError(f"the pseudonym master key must have at least {MIN_KEY_BYTES} bytes")
    if not partner or not purpose:
        raise ValueError("a pseudonym key needs both a partner and a purpose")
    info = _HKDF_INFO + _length_prefixed(partner) + _length_prefixed(purpose)
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=info)
    return hkdf.derive(master_key)


class Pseudonymiser:
    """Replaces identifiers with lower-case hex HMAC-SHA256 under one (partner, purpose) key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a pseudonym key must have at least {MIN_KEY_BYTES} bytes")
        # Keyed once: the pads are hashed here, not again for every value.
        self._hmac = HmacSha256(key)

    def __repr__(self) -> str:
        return "Pseudonymiser(<key hidden>)"

    def pseudonym(self, value: str) -> str:
        """The pseudonym of one identifier."""
        return self._hmac.hexdigest(value.encode("utf-8"))

    def pseudonymise(self, values: Iterable[Any]) -> list[str | None]:
        """Pseudonyms of a column's values; missing (None, NaN) stays missing.

        Every value is hashed where it stands: telling repeated values apart first costs
        about as much per value as the HMAC it would save, and a column of identifiers
        rarely repeats one."""
        encode = str.encode
        try:
            # A gap is None, or NaN as pandas writes one (the value unequal to itself).
            return self._hmac.hexdigests(
                None if value is None or value != value else encode(value)  # noqa: PLR0124
                for value in values
            )
        except TypeError as error:
            raise TypeError(f"only text can be pseudonymised: {error}") from None
