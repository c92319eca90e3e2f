"""The pure policy engine: agreements, purposes and contracts in; a reasoned decision out."""

from broker.policy.engine import evaluate
from broker.policy.index import AgreementIndex
from broker.policy.model import (
    AgreementRef,
    Decision,
    Obligations,
    Reason,
    ShareRequest,
    Withheld,
)

__all__ = [
    "AgreementIndex",
    "AgreementRef",
    "Decision",
    "Obligations",
    "Reason",
    "ShareRequest",
    "Withheld",
    "evaluate",
]
