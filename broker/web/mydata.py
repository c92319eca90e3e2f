"""What the citizen's page shows of their own data and consents, in their language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from broker.auth.principal import Principal
from broker.mydata.consents import ConsentService
from broker.mydata.export import DatasetExport
from broker.runtime import BrokerRuntime
from broker.web.i18n import Locale

DEFAULT_CONSENT_DAYS = 365


@dataclass(frozen=True)
class DatasetChoice:
    """A dataset the person can view or download."""

    id: str
    name: str


@dataclass(frozen=True)
class ConsentView:
    """One of the person's consents as they review it."""

    consent_id: str
    recipient: str
    dataset: str
    purpose: str
    fields: list[str]
    valid_until: str
    status: str
    status_text: str
    revocable: bool


@dataclass(frozen=True)
class OfferedField:
    """A field a consent agreement asks for, described by its contract."""

    name: str
    description: str


@dataclass(frozen=True)
class ConsentOffer:
    """A consent agreement in force the person may consent to."""

    agreement_id: str
    recipient: str
    dataset: str
    purpose: str
    fields: list[OfferedField]
    today: str
    default_until: str


@dataclass(frozen=True)
class FieldValue:
    """One value of a record with the field's description and origin."""

    name: str
    description: str
    value: str
    source: str


@dataclass(frozen=True)
class WithheldView:
    """A field withheld from the person, the law and why."""

    name: str
    explanation: str
    law_title: str
    law_reference: str


@dataclass(frozen=True)
class DatasetView:
    """A dataset's records about the person, as tables of described values."""

    id: str
    name: str
    source_system: str
    records: list[list[FieldValue]]
    withheld: list[WithheldView]


def dataset_choices(datasets: list[str], locale: Locale) -> list[DatasetChoice]:
    """The downloadable datasets with their names in the reader's language."""
    return [DatasetChoice(name, locale.datasets.get(name, name)) for name in datasets]


def _field_description(runtime: BrokerRuntime, dataset: str, field: str) -> str:
    contract = runtime.contracts.get(dataset)
    return contract.field(field).description if contract else field


def consent_views(
    service: ConsentService, principal: Principal, locale: Locale
) -> list[ConsentView]:
    """The person's consents, newest first."""
    runtime = service.runtime
    return [
        ConsentView(
            consent_id=item.consent_id,
            recipient=_partner_name(runtime, locale, item.partner),
            dataset=locale.datasets.get(item.dataset, item.dataset),
            purpose=_purpose(runtime, locale, item.purpose),
            fields=[_field_description(runtime, item.dataset, name) for name in item.fields],
            valid_until=f"{item.valid_until.day}.{item.valid_until.month}.{item.valid_until.year}",
            status=item.status,
            status_text=locale.ui[f"status_{item.status}"],
            revocable=item.status == "valid",
        )
        for item in service.list(principal)
    ]


def consent_offers(runtime: BrokerRuntime, locale: Locale) -> list[ConsentOffer]:
    """Consent agreements in force today, one offer per purpose."""
    today = runtime.now().date()
    offers = []
    for agreement in runtime.config.agreements:
        if not (agreement.requires_consent and agreement.in_force(today)):
            continue
        until = today + timedelta(days=DEFAULT_CONSENT_DAYS)
        if agreement.valid_until is not None:
            until = min(until, agreement.valid_until)
        for purpose in agreement.purposes:
            offers.append(
                ConsentOffer(
                    agreement_id=f"{agreement.id}:{purpose}",
                    recipient=_partner_name(runtime, locale, agreement.partner),
                    dataset=locale.datasets.get(agreement.dataset, agreement.dataset),
                    purpose=_purpose(runtime, locale, purpose),
                    fields=[
                        OfferedField(name, _field_description(runtime, agreement.dataset, name))
                        for name in agreement.fields
                    ],
                    today=today.isoformat(),
                    default_until=until.isoformat(),
                )
            )
    return offers


def dataset_view(runtime: BrokerRuntime, item: DatasetExport, locale: Locale) -> DatasetView:
    """A downloaded dataset as the page shows it."""
    records = [
        [
            FieldValue(
                name=spec.name,
                description=spec.description,
                value=_text(row.get(spec.name)),
                source=spec.source_field,
            )
            for spec in item.fields
        ]
        for row in item.rows
    ]
    withheld = [
        WithheldView(
            name=entry.field,
            explanation=entry.explanation,
            law_title=locale.legal_bases.get(entry.legal_basis, entry.legal_basis_title),
            law_reference=entry.legal_basis_reference,
        )
        for entry in item.withheld
    ]
    return DatasetView(
        id=item.dataset,
        name=locale.datasets.get(item.dataset, item.dataset),
        source_system=item.source_system,
        records=records,
        withheld=withheld,
    )


def _text(value: Any) -> str:
    return "–" if value is None else str(value)


def _partner_name(runtime: BrokerRuntime, locale: Locale, partner: str) -> str:
    configured = runtime.config.partners.get(partner)
    return locale.partners.get(partner, configured.name if configured else partner)


def _purpose(runtime: BrokerRuntime, locale: Locale, purpose: str) -> str:
    configured = runtime.config.purposes.get(purpose)
    return locale.purposes.get(purpose, configured.description if configured else purpose)
