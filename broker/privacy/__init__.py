"""Privacy transforms applied to released rows: pseudonyms, generalisation, suppressed counts
and k-anonymity warnings."""

from broker.privacy.aggregate import aggregate_counts
from broker.privacy.generalise import AGE_BANDS, RULES, generalise
from broker.privacy.kanon import k_anonymity_warnings, smallest_group
from broker.privacy.pseudonym import Pseudonymiser, derive_partner_key
from broker.privacy.transforms import Columns, apply_transforms

__all__ = [
    "AGE_BANDS",
    "Columns",
    "RULES",
    "Pseudonymiser",
    "aggregate_counts",
    "apply_transforms",
    "derive_partner_key",
    "generalise",
    "k_anonymity_warnings",
    "smallest_group",
]
