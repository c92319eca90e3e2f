"""The pure policy engine: deny by default, explicit denials override any permit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from types import MappingProxyType

from broker.config.datasets import DatasetInfo
from broker.config.models import Purpose
from broker.policy.consent import ConsentRecord, consent_verdict
from broker.policy.index import AgreementIndex, IndexedAgreement
from broker.policy.model import (
    AGREEMENT_NOT_IN_FORCE,
    DIRECT_IDENTIFIER,
    DROPPED_BY_AGREEMENT,
    FIELD_NOT_IN_AGREEMENT,
    FIELDS_NOT_PERMITTED,
    FILTER_NOT_PERMITTED,
    LEGAL_BASIS_MISMATCH,
    NO_AGREEMENT,
    PERMITTED,
    PURPOSE_INCOMPATIBLE,
    PURPOSE_NOT_PERMITTED,
    UNKNOWN_DATASET,
    UNKNOWN_PURPOSE,
    Decision,
    Obligations,
    Reason,
    ShareRequest,
    Withheld,
    deny,
)


def _forbids(
    request: ShareRequest,
    purpose: Purpose,
    dataset: DatasetInfo,
) -> list[Reason]:
    """Rules that deny regardless of agreements (they override any permit)."""
    reasons = []
    if request.legal_basis not in purpose.legal_bases:
        reasons.append(
            Reason(
                LEGAL_BASIS_MISMATCH,
                f"purpose {purpose.id} does not rest on legal basis {request.legal_basis}",
            )
        )
    # GDPR Art. 6(4): data may serve a new purpose only if it is compatible with collection.
    compatible = any(
        collected == purpose.id or collected in purpose.compatible_with
        for collected in dataset.purposes
    )
    if not compatible:
        reasons.append(
            Reason(
                PURPOSE_INCOMPATIBLE,
                f"purpose {purpose.id} is not compatible with the purposes {dataset.name} "
                f"was collected for ({', '.join(dataset.purposes)})",
            )
        )
    return reasons


def _not_in_force(entry: IndexedAgreement) -> Reason:
    agreement = entry.agreement
    until = agreement.valid_until.isoformat() if agreement.valid_until else "open-ended"
    return Reason(
        AGREEMENT_NOT_IN_FORCE,
        f"agreement {agreement.id} is in force {agreement.valid_from.isoformat()} to {until}",
    )


def _match(
    request: ShareRequest, index: AgreementIndex, day: date
) -> tuple[list[IndexedAgreement], Reason | None]:
    """Agreements permitting the request; if none, why the one that came closest does not.

    Closeness follows the order of the checks: an agreement for the purpose and legal basis
    that is not in force beats one with another legal basis, which beats one for another
    purpose; among equals the most preferred agreement is named.
    """
    partner, dataset, purpose = request.partner, request.dataset, request.purpose
    windows = index.windows(partner, dataset, purpose, request.legal_basis)
    if windows is not None:
        matched = windows.in_force(day)
        return (matched, None) if matched else ([], _not_in_force(windows.entries[0]))
    same_purpose = index.first_with_purpose(partner, dataset, purpose)
    if same_purpose is not None:
        agreement = same_purpose.agreement
        return [], Reason(
            LEGAL_BASIS_MISMATCH,
            f"agreement {agreement.id} rests on {agreement.legal_basis}, not {request.legal_basis}",
        )
    candidates = index.candidates(partner, dataset)
    if candidates:
        return [], Reason(
            PURPOSE_NOT_PERMITTED,
            f"agreement {candidates[0].agreement.id} does not cover purpose {purpose}",
        )
    return [], Reason(NO_AGREEMENT, f"{partner} has no agreement for dataset {dataset}")


def _release(
    request: ShareRequest, entry: IndexedAgreement, dataset: DatasetInfo
) -> tuple[list[str], list[Withheld], dict[str, str]]:
    """Split the requested fields into released (with transforms) and withheld (with reasons)."""
    agreement = entry.agreement
    requested = agreement.fields if request.fields is None else tuple(dict.fromkeys(request.fields))
    released: list[str] = []
    withheld: list[Withheld] = []
    transforms: dict[str, str] = {}
    for name in requested:
        if name not in entry.fields:
            withheld.append(Withheld(name, FIELD_NOT_IN_AGREEMENT))
            continue
        explicit = agreement.transforms.get(name)
        if dataset.is_direct_identifier(name):
            # A direct identifier leaves in clear only if the agreement explicitly keeps it and
            # says it must (keep_direct_identifiers); pseudonymised or generalised it may leave.
            kept = explicit == "keep" and agreement.keep_direct_identifiers
            if explicit in (None, "drop") or (explicit == "keep" and not kept):
                withheld.append(Withheld(name, DIRECT_IDENTIFIER))
                continue
        elif explicit == "drop":
            withheld.append(Withheld(name, DROPPED_BY_AGREEMENT))
            continue
        released.append(name)
        transforms[name] = explicit or "keep"
    return released, withheld, transforms


def _filters_allowed(
    request: ShareRequest, transforms: Mapping[str, str], aggregate_only: bool
) -> Reason | None:
    if aggregate_only and request.filters:
        # Two aggregate queries whose filters differ by one person reveal that person by
        # subtraction (a differencing attack), so aggregates are only ever computed over the
        # agreement's whole scope; partners choose dimensions, never sub-populations.
        return Reason(
            FILTER_NOT_PERMITTED,
            "aggregate-only agreements release counts over their whole scope; filters are refused",
        )
    # Filtering on a withheld or transformed field would let a partner probe values it may not
    # see (e.g. "is this identity code in the set?"), so filters use only fields released as is.
    hidden = [name for name in request.filters if transforms.get(name) != "keep"]
    if hidden:
        return Reason(
            FILTER_NOT_PERMITTED,
            f"filters may only use fields released unchanged; not: {', '.join(sorted(hidden))}",
        )
    return None


def evaluate(
    request: ShareRequest,
    index: AgreementIndex,
    purposes: Mapping[str, Purpose],
    datasets: Mapping[str, DatasetInfo],
    now: datetime,
    restrictions: Iterable[str] = (),
    consents: Iterable[ConsentRecord] = (),
) -> Decision:
    """Decide a share request; `now` is timezone-aware and its local date tests validity.

    `consents` are the people's consents the caller found for this partner, dataset and
    purpose; they matter only under a consent agreement, which they never widen.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    dataset = datasets.get(request.dataset)
    if dataset is None:
        return deny(Reason(UNKNOWN_DATASET, f"no dataset {request.dataset}"))
    purpose = purposes.get(request.purpose)
    if purpose is None:
        return deny(Reason(UNKNOWN_PURPOSE, f"no purpose {request.purpose}"))
    forbids = _forbids(request, purpose, dataset)
    matched, closest = _match(request, index, now.date())
    if closest is not None and closest.code not in {reason.code for reason in forbids}:
        forbids.append(closest)
    if forbids:
        return deny(*forbids)
    return _permit(request, matched, dataset, purpose, restrictions, consents, now)


def _permit(
    request: ShareRequest,
    matched: list[IndexedAgreement],
    dataset: DatasetInfo,
    purpose: Purpose,
    restrictions: Iterable[str],
    consents: Iterable[ConsentRecord],
    now: datetime,
) -> Decision:
    chosen = matched[0]
    agreement = chosen.agreement
    released, withheld, transforms = _release(request, chosen, dataset)
    if not released:
        return deny(
            Reason(
                FIELDS_NOT_PERMITTED,
                f"agreement {agreement.id} releases none of the requested fields",
            )
        )
    filter_denial = _filters_allowed(request, transforms, agreement.aggregate_only)
    if filter_denial is not None:
        return deny(filter_denial)
    excluded = frozenset(restrictions) if not purpose.mandatory else frozenset()
    consenting = None
    if agreement.requires_consent:
        verdict = consent_verdict(
            consents,
            partner=request.partner,
            dataset=request.dataset,
            purpose=request.purpose,
            fields=released,
            now=now,
        )
        if verdict.denial is not None:
            return replace(deny(verdict.denial), matched_agreements=(chosen.ref,))
        consenting = verdict.subjects
    obligations = Obligations(
        fields_released=tuple(released),
        withheld=tuple(withheld),
        transforms=MappingProxyType(transforms),
        row_scope=MappingProxyType(dict(agreement.row_scope or {})),
        aggregate_only=agreement.aggregate_only,
        min_cell_size=agreement.min_cell_size,
        max_rows=agreement.max_rows,
        hidden_until_days=agreement.hidden_until_days,
        exclude_objecting_subjects=not purpose.mandatory,
        excluded_subjects=excluded,
        consenting_subjects=consenting,
    )
    reason = Reason(
        PERMITTED,
        f"agreement {agreement.id} {agreement.version} permits {purpose.id} "
        f"on {agreement.legal_basis}",
    )
    return Decision(
        allowed=True,
        reasons=(reason,),
        matched_agreements=tuple(entry.ref for entry in matched),
        obligations=obligations,
    )
