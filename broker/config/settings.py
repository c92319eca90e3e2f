"""Runtime settings from `TILLIT_*` environment variables, and resolution of broker secrets."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from broker.errors import ConfigurationError

MIN_PSEUDONYM_KEY_BYTES = 32
DEMO_SECRETS_DIR = Path("var/secrets")


@dataclass(frozen=True)
class BrokerSecrets:
    """Key material the broker needs; the repr never shows it."""

    pseudonym_key: bytes = field(repr=False)
    checkpoint_key: Ed25519PrivateKey = field(repr=False)


class BrokerSettings(BaseSettings):
    """Broker settings; every field can be set as `TILLIT_<FIELD>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="TILLIT_", extra="forbid", frozen=True)

    config_dir: Path = Path("config")
    audience: str = "https://tillit.lahti.fi/broker"
    database_url: str = "sqlite:///var/tillit.db"
    demo_mode: bool = False
    pseudonym_key: SecretStr | None = None
    pseudonym_key_file: Path | None = None
    checkpoint_key_file: Path | None = None
    token_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # RFC 9068 tokens here authorise one request each, so five minutes is already generous.
    max_token_lifetime_seconds: int = Field(default=300, ge=1, le=300)
    jwks_refresh_min_interval_seconds: float = Field(default=60, gt=0)
    rate_limit_per_minute: int = Field(default=600, ge=1)
    max_body_bytes: int = Field(default=65536, ge=1024)
    # A request body must arrive whole within this time (408 otherwise); see docs/operations.md.
    body_read_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Ship queued lineage events in a background thread of each worker (off: another process
    # ships them, e.g. in tests that drive the shipper by hand).
    lineage_shipping: bool = True
    lineage_poll_seconds: float = Field(default=1.0, gt=0)
    # Copy shares' disclosed subjects into the per-subject disclosure index in a background
    # thread of each worker (citizens see pending ones either way).
    disclosure_indexing: bool = True
    disclosure_index_seconds: float = Field(default=1.0, gt=0)
    # On a SQLite file, checkpoint the write-ahead log in a background thread this often,
    # instead of in the commit of whichever writer takes it past SQLite's threshold (0: leave
    # it to SQLite); see docs/operations.md.
    sqlite_checkpoint_seconds: float = Field(default=0.1, ge=0, le=60)
    # Shares a worker process serves at once (unset: one on SQLite, eight on a database
    # server, where each share also waits on the network); see docs/operations.md.
    share_threads: int | None = Field(default=None, ge=1, le=64)
    # JSON pages of at most this many rows are prepared on the worker's event loop rather than
    # in a lane thread, and audited there when the write turn is free at once (SQLite only;
    # default 1,000 there), see docs/operations.md.
    share_inline_rows: int | None = Field(default=None, ge=0, le=10_000)

    def share_lane_threads(self) -> int:
        """The share lane's width: `share_threads`, or the default for the database."""
        if self.share_threads is not None:
            return self.share_threads
        return 1 if self.database_url.startswith("sqlite") else 8

    def share_lane_inline_rows(self) -> int:
        """The largest JSON page served on the event loop: `share_inline_rows`, or the default
        for the database (none on PostgreSQL, whose every read waits on the network)."""
        if self.share_inline_rows is not None:
            return self.share_inline_rows
        return 1000 if self.database_url.startswith("sqlite") else 0

    def resolve_secrets(self, demo_secrets_dir: Path = DEMO_SECRETS_DIR) -> BrokerSecrets:
        """Load the pseudonym and checkpoint keys; outside demo mode a missing one is fatal."""
        return BrokerSecrets(
            pseudonym_key=self._pseudonym_key(demo_secrets_dir),
            checkpoint_key=self._checkpoint_key(demo_secrets_dir),
        )

    def _pseudonym_key(self, demo_secrets_dir: Path) -> bytes:
        if self.pseudonym_key is not None and self.pseudonym_key_file is not None:
            raise ConfigurationError(
                "TILLIT_PSEUDONYM_KEY", "set either the key or TILLIT_PSEUDONYM_KEY_FILE, not both"
            )
        if self.pseudonym_key is not None:
            key = self.pseudonym_key.get_secret_value().encode()
            source = "TILLIT_PSEUDONYM_KEY"
        else:
            path = self.pseudonym_key_file
            if path is None or not path.exists():
                if not self.demo_mode:
                    raise ConfigurationError(
                        path or "TILLIT_PSEUDONYM_KEY_FILE",
                        "pseudonym key missing; set TILLIT_PSEUDONYM_KEY(_FILE) outside demo mode",
                    )
                path = path or demo_secrets_dir / "pseudonym.key"
                _write_secret_once(path, secrets.token_hex(32).encode())
            key = _read_secret(path).strip()
            source = str(path)
        if len(key) < MIN_PSEUDONYM_KEY_BYTES:
            raise ConfigurationError(
                source, f"pseudonym key shorter than {MIN_PSEUDONYM_KEY_BYTES} bytes"
            )
        return key

    def _checkpoint_key(self, demo_secrets_dir: Path) -> Ed25519PrivateKey:
        path = self.checkpoint_key_file
        if path is None or not path.exists():
            if not self.demo_mode:
                raise ConfigurationError(
                    path or "TILLIT_CHECKPOINT_KEY_FILE",
                    "audit checkpoint signing key missing; required outside demo mode",
                )
            path = path or demo_secrets_dir / "checkpoint_ed25519.pem"
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_secret_once(path, pem)
        try:
            key = serialization.load_pem_private_key(_read_secret(path), password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(path, f"not a PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigurationError(path, "checkpoint key must be an Ed25519 private key")
        return key


def _read_secret(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(path, f"secret cannot be read: {exc.strerror}") from None


def _write_secret_once(path: Path, content: bytes) -> None:
    """Create a demo secret readable only by its owner; never overwrite an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        # link() publishes the complete file atomically and fails if another worker won the
        # race, so no reader ever sees a half-written key and both end up with the same one.
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
