"""Opaque, tamper-proof paging cursors: a partner never sees the keys it pages over."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from broker.errors import InvalidRequest


class CursorCodec:
    """Encrypts the last key of a page (which may be an identity code) into an opaque cursor."""

    def __init__(self, master_key: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tillit/cursor/v1")
        self._fernet = Fernet(base64.urlsafe_b64encode(key.derive(master_key)))

    def encode(self, partner: str, dataset: str, last_key: list[Any]) -> str:
        """A cursor valid only for this partner and dataset."""
        payload = json.dumps({"p": partner, "d": dataset, "k": last_key}, default=str)
        return self._fernet.encrypt(payload.encode()).decode()

    def decode(self, cursor: str, partner: str, dataset: str) -> list[Any]:
        """The key a cursor continues after; 422 for a cursor that is forged or someone else's."""
        try:
            payload = json.loads(self._fernet.decrypt(cursor.encode()))
        except (InvalidToken, ValueError):
            raise InvalidRequest("the cursor is not valid", code="invalid_cursor") from None
        if payload.get("p") != partner or payload.get("d") != dataset:
            raise InvalidRequest("the cursor is not valid", code="invalid_cursor")
        return list(payload["k"])
