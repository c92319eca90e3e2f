"""Cross-checks of agreements against partners, purposes, legal bases and dataset contracts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from broker.config.datasets import DatasetInfo
from broker.config.models import Agreement, LegalBasis, Partner, Purpose
from broker.errors import ConfigurationError

# Partners of these kinds authenticate for other reasons (disclosure lookups, operations) and
# must never be the recipient of a share.
_NON_RECIPIENT_KINDS = frozenset({"citizen_portal", "operator"})


def check_agreement(
    agreement: Agreement,
    file: Path,
    partners: Mapping[str, Partner],
    purposes: Mapping[str, Purpose],
    legal_bases: Mapping[str, LegalBasis],
    datasets: Mapping[str, DatasetInfo],
) -> None:
    """Raise ConfigurationError naming `file` if the agreement refers to anything inconsistent."""
    partner = partners.get(agreement.partner)
    if partner is None:
        raise ConfigurationError(file, f"unknown partner {agreement.partner!r}")
    if partner.kind in _NON_RECIPIENT_KINDS:
        raise ConfigurationError(
            file, f"partner {partner.id!r} of kind {partner.kind} cannot receive shares"
        )
    if agreement.legal_basis not in legal_bases:
        raise ConfigurationError(file, f"unknown legal basis {agreement.legal_basis!r}")
    for purpose_id in agreement.purposes:
        purpose = purposes.get(purpose_id)
        if purpose is None:
            raise ConfigurationError(file, f"unknown purpose {purpose_id!r}")
        if agreement.legal_basis not in purpose.legal_bases:
            raise ConfigurationError(
                file,
                f"legal basis {agreement.legal_basis!r} is not one purpose {purpose_id!r} allows "
                f"({', '.join(purpose.legal_bases)})",
            )
    dataset = datasets.get(agreement.dataset)
    if dataset is None:
        raise ConfigurationError(file, f"unknown dataset {agreement.dataset!r}")
    _check_fields(agreement, file, dataset)
    _check_consent(agreement, file, purposes, legal_bases[agreement.legal_basis], dataset)


def _check_consent(
    agreement: Agreement,
    file: Path,
    purposes: Mapping[str, Purpose],
    legal_basis: LegalBasis,
    dataset: DatasetInfo,
) -> None:
    """A consent agreement rests on GDPR Art. 6(1)(a), and only a consent agreement does."""
    on_consent = legal_basis.gdpr_article.startswith("6(1)(a)")
    if agreement.requires_consent != on_consent:
        raise ConfigurationError(
            file,
            f"legal_basis_type {agreement.legal_basis_type} does not fit legal basis "
            f"{legal_basis.id!r} (GDPR Art. {legal_basis.gdpr_article})",
        )
    if not agreement.requires_consent:
        return
    mandatory = [p for p in agreement.purposes if purposes[p].mandatory]
    if mandatory:
        raise ConfigurationError(
            file, f"a legal obligation cannot rest on consent: {', '.join(mandatory)}"
        )
    if not any(dataset.is_direct_identifier(name) for name in dataset.fields):
        raise ConfigurationError(
            file, f"dataset {dataset.name!r} names no person, so nobody could consent"
        )


def _check_fields(agreement: Agreement, file: Path, dataset: DatasetInfo) -> None:
    unknown = [f for f in agreement.fields if f not in dataset.fields]
    if unknown:
        raise ConfigurationError(
            file, f"fields not in dataset {dataset.name!r}: {', '.join(unknown)}"
        )
    not_granted = [f for f in agreement.transforms if f not in agreement.fields]
    if not_granted:
        raise ConfigurationError(
            file, f"transforms name fields the agreement does not grant: {', '.join(not_granted)}"
        )
    scope_unknown = [f for f in agreement.row_scope or {} if f not in dataset.fields]
    if scope_unknown:
        raise ConfigurationError(
            file,
            f"row_scope names fields not in dataset {dataset.name!r}: {', '.join(scope_unknown)}",
        )
    kept_direct = [
        f
        for f, transform in agreement.transforms.items()
        if transform == "keep" and dataset.is_direct_identifier(f)
    ]
    if kept_direct and not agreement.keep_direct_identifiers:
        raise ConfigurationError(
            file,
            f"direct identifiers {', '.join(kept_direct)} are kept without "
            "keep_direct_identifiers: true",
        )
    if kept_direct and agreement.aggregate_only:
        raise ConfigurationError(file, "an aggregate_only agreement cannot keep direct identifiers")


def _windows_overlap(a: Agreement, b: Agreement) -> bool:
    a_end = a.valid_until or date.max
    b_end = b.valid_until or date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


def check_no_overlaps(agreements: Sequence[Agreement], files: Mapping[str, Path]) -> None:
    """Refuse two agreements that could both permit one request.

    With at most one matching agreement per request, withdrawing an agreement can never
    release more data (no silent fallback to an older, wider version); a new version must
    end the old one with `valid_until`.
    """
    by_pair: dict[tuple[str, str, str], list[Agreement]] = {}
    for agreement in agreements:
        key = (agreement.partner, agreement.dataset, agreement.legal_basis)
        by_pair.setdefault(key, []).append(agreement)
    for group in by_pair.values():
        for i, first in enumerate(group):
            for second in group[i + 1 :]:
                shared = sorted(set(first.purposes) & set(second.purposes))
                if shared and _windows_overlap(first, second):
                    raise ConfigurationError(
                        files[second.id],
                        f"agreement {second.id!r} overlaps {first.id!r} "
                        f"({files[first.id].name}) for purpose {shared[0]!r}; "
                        "end the older one with valid_until",
                    )
