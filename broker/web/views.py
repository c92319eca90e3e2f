"""What the pages show, built from the same functions the JSON endpoints use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broker.api.routes.catalog import agreement_summaries
from broker.api.routes.subjects import disclosures_about
from broker.config.models import LegalBasis
from broker.runtime import BrokerRuntime
from broker.web.i18n import Locale
from contracts.catalog import describe


@dataclass(frozen=True)
class LawView:
    """A legal basis as a reader sees it: the act, its Finlex link and the GDPR article."""

    id: str
    title: str
    reference: str
    gdpr_article: str


@dataclass(frozen=True)
class PermissionView:
    """An agreement in force: which partner may use a dataset, for what and how."""

    agreement_id: str
    partner: str
    partner_name: str
    purposes: list[tuple[str, str]]
    legal_basis: LawView | None
    fields: list[str]
    aggregate_only: bool


@dataclass(frozen=True)
class DatasetView:
    """One catalog entry: the contract's description and the agreements in force on it."""

    contract: dict[str, Any]
    legal_basis: LawView | None
    collected_for: list[tuple[str, str]]
    permissions: list[PermissionView]


@dataclass(frozen=True)
class DisclosureView:
    """One disclosure about the signed-in person, in their language."""

    when: str
    when_iso: str
    recipient: str
    dataset: str
    purpose: str
    legal_basis: LawView


def _law(legal_basis: LegalBasis | None, title: str | None = None) -> LawView | None:
    if legal_basis is None:
        return None
    return LawView(
        id=legal_basis.id,
        title=title or legal_basis.title,
        reference=str(legal_basis.reference),
        gdpr_article=legal_basis.gdpr_article,
    )


def _purposes(runtime: BrokerRuntime, ids: list[str]) -> list[tuple[str, str]]:
    purposes = runtime.config.purposes
    return [(pid, purposes[pid].description if pid in purposes else "") for pid in ids]


def _permission(runtime: BrokerRuntime, summary: dict[str, Any]) -> PermissionView:
    config = runtime.config
    agreement = next(a for a in config.agreements if a.id == summary["agreement_id"])
    partner = config.partners.get(agreement.partner)
    return PermissionView(
        agreement_id=agreement.id,
        partner=agreement.partner,
        partner_name=partner.name if partner else agreement.partner,
        purposes=_purposes(runtime, summary["purposes"]),
        legal_basis=_law(config.legal_bases.get(summary["legal_basis"])),
        fields=summary["fields"],
        aggregate_only=summary["aggregate_only"],
    )


def catalog_view(runtime: BrokerRuntime) -> list[DatasetView]:
    """Every dataset with its contract and the agreements in force on it today."""
    views = []
    for name, contract in runtime.contracts.items():
        entry = describe(contract)
        in_force = [s for s in agreement_summaries(runtime, name) if s["in_force"]]
        views.append(
            DatasetView(
                contract=entry,
                legal_basis=_law(runtime.config.legal_bases.get(entry["legal_basis"])),
                collected_for=_purposes(runtime, entry["purposes"]),
                permissions=[_permission(runtime, summary) for summary in in_force],
            )
        )
    return views


def _recipient(runtime: BrokerRuntime, locale: Locale, partner: str, configured: str) -> str:
    # A citizen-portal "recipient" is the person themselves viewing or downloading their data.
    known = runtime.config.partners.get(partner)
    if known is not None and known.kind == "citizen_portal":
        return locale.ui["recipient_self"]
    return locale.partners.get(partner, configured)


def disclosures_view(
    runtime: BrokerRuntime, identity_code: str, locale: Locale
) -> list[DisclosureView]:
    """Who received data about this person, newest first, in plain language."""
    legal_bases = runtime.config.legal_bases
    views = []
    for item in disclosures_about(runtime, identity_code):
        configured = legal_bases.get(item.legal_basis)
        law = _law(configured, locale.legal_bases.get(item.legal_basis)) or LawView(
            id=item.legal_basis,
            title=item.legal_basis_title or item.legal_basis,
            reference=item.legal_basis_reference,
            gdpr_article="",
        )
        views.append(
            DisclosureView(
                when=locale.format_datetime(item.disclosed_at),
                when_iso=item.disclosed_at.isoformat(),
                recipient=_recipient(runtime, locale, item.partner, item.partner_name),
                dataset=locale.datasets.get(item.dataset, item.dataset),
                purpose=locale.purposes.get(item.purpose, item.purpose_description),
                legal_basis=law,
            )
        )
    return views
