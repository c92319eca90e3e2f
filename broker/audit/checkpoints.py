"""Ed25519-signed checkpoints of the chain head, so truncating the log cannot go unnoticed.

A checkpoint signs the canonical JSON (see broker.audit.records) of
``{"format": "tillit-audit-checkpoint/1", "head_hash": ..., "key_id": ..., "seq": ...,
"signed_at": ...}``; ``signature`` is the standard base64 of the 64-byte Ed25519 signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import Connection

from broker.audit.chain import chain_head, require_chain_lock
from broker.audit.records import canonical_json, utc_timestamp
from broker.audit.tables import audit_checkpoints
from contracts.sqlite_direct import first_row

CHECKPOINT_FORMAT: Final = "tillit-audit-checkpoint/1"
# The broker signs the head at every multiple of this seq, so a missing one was deleted.
CHECKPOINT_EVERY: Final = 100


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement that the chain had ``head_hash`` at ``seq``."""

    seq: int
    head_hash: str
    signed_at: datetime
    key_id: str
    signature: str


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A short stable name for a verification key: SHA-256 of its raw bytes, 16 hex digits."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def checkpoint_message(seq: int, head_hash: str, signed_at: datetime, key_id: str) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return canonical_json(
        {
            "format": CHECKPOINT_FORMAT,
            "head_hash": head_hash,
            "key_id": key_id,
            "seq": seq,
            "signed_at": utc_timestamp(signed_at),
        }
    )


class CheckpointSigner:
    """Signs chain heads with the broker's Ed25519 checkpoint key."""

    def __init__(self, private_key: Ed25519PrivateKey, key_id: str | None = None) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id or key_id_of(self.public_key)

    def __repr__(self) -> str:
        return f"CheckpointSigner(key_id={self.key_id!r})"

    def sign(self, seq: int, head_hash: str, signed_at: datetime) -> Checkpoint:
        """A checkpoint of (seq, head_hash) signed now."""
        message = checkpoint_message(seq, head_hash, signed_at, self.key_id)
        signature = base64.b64encode(self._private_key.sign(message)).decode("ascii")
        return Checkpoint(seq, head_hash, signed_at, self.key_id, signature)


def signature_is_valid(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    """True when the checkpoint's signature verifies under ``public_key``."""
    message = checkpoint_message(
        checkpoint.seq, checkpoint.head_hash, checkpoint.signed_at, checkpoint.key_id
    )
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        public_key.verify(signature, message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


_LAST_SEQ = sa.select(sa.func.max(audit_checkpoints.c.seq))
_LAST_SEQ_SQL: Final = "SELECT max(seq) FROM audit_checkpoints"


def last_checkpoint_seq(conn: Connection) -> int:
    """Seq of the newest checkpoint, 0 when none has been written."""
    row = first_row(conn, _LAST_SEQ_SQL, _LAST_SEQ)
    return int(row[0] or 0) if row is not None else 0


def write_checkpoint(
    conn: Connection, signer: CheckpointSigner, now: datetime
) -> Checkpoint | None:
    """Sign and store the current head; None when the chain is empty or the head is signed."""
    require_chain_lock(conn)
    if now.tzinfo is None:
        raise ValueError("checkpoint time must be timezone-aware")
    seq, head_hash = chain_head(conn)
    if seq == 0 or last_checkpoint_seq(conn) >= seq:
        return None
    checkpoint = signer.sign(seq, head_hash, now.astimezone(UTC))
    conn.execute(
        audit_checkpoints.insert(),
        {
            "seq": checkpoint.seq,
            "head_hash": checkpoint.head_hash,
            "signed_at": checkpoint.signed_at,
            "key_id": checkpoint.key_id,
            "signature": checkpoint.signature,
        },
    )
    return checkpoint


def maybe_checkpoint(
    conn: Connection, signer: CheckpointSigner, now: datetime, every: int = CHECKPOINT_EVERY
) -> Checkpoint | None:
    """Checkpoint the head when its seq is a multiple of ``every`` or ``every`` records wait."""
    if every < 1:
        raise ValueError("every must be at least 1")
    require_chain_lock(conn)
    seq, _ = chain_head(conn)
    if seq == 0 or (seq % every and seq - last_checkpoint_seq(conn) < every):
        return None
    return write_checkpoint(conn, signer, now)


def _write_private_file(path: Path, content: bytes) -> None:
    """Create a file only its owner can read; never overwrite an existing key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def generate_signing_key(path: Path) -> Ed25519PrivateKey:
    """Create a new Ed25519 checkpoint key as PKCS#8 PEM at ``path`` (mode 0600)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private_file(path, pem)
    return key


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load the Ed25519 checkpoint signing key from a PEM file."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_verify_key(path: Path) -> Ed25519PublicKey:
    """Load the checkpoint verification key from a public PEM (or derive it from a private one)."""
    pem = path.read_bytes()
    if b"PRIVATE KEY" in pem:
        return load_signing_key(path).public_key()
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} does not hold an Ed25519 public key")
    return key


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    """The verification key as SubjectPublicKeyInfo PEM, to hand to auditors."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
