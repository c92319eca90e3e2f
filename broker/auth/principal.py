"""The authenticated caller, as established from a verified access token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from broker.config.models import PartnerKind


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the partner behind the token, and the token's identifying claims."""

    partner_id: str
    kind: PartnerKind
    roles: tuple[str, ...]
    subject: str
    issuer: str
    jti: str
    client_id: str
    expires_at: datetime

    def has_role(self, role: str) -> bool:
        """Whether the partner's configuration grants this role."""
        return role in self.roles
