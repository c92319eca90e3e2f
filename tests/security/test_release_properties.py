"""Properties of the whole sharing service over the real store: withdrawing any grant never
releases more, released fields stay within the agreement, and direct identifiers leave only
where an agreement explicitly keeps them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from broker.auth.principal import Principal
from broker.config.models import Agreement
from broker.errors import InvalidRequest, PolicyDenied
from broker.policy import AgreementIndex
from broker.runtime import BrokerRuntime, build_runtime
from broker.sharing.models import ShareRequestBody
from broker.sharing.service import ShareService
from broker.store import rows as store_rows
from tests.broker.app.helpers import partner_principal
from tests.security.attack import broker_settings, private_store

pytestmark = pytest.mark.integration
PAGE = 40
Released = tuple[list[str], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def runtime(
    tmp_path_factory: pytest.TempPathFactory, loaded_store: Path, broker_config: dict[str, Path]
) -> Iterator[BrokerRuntime]:
    store = private_store(loaded_store, tmp_path_factory.mktemp("release-properties"))
    built = build_runtime(broker_settings(broker_config, store))
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def raw_identifiers(runtime: BrokerRuntime) -> dict[str, set[str]]:
    """Every stored value of every direct identifier, by field name."""
    values: dict[str, set[str]] = {}
    with runtime.engine.connect() as conn:
        for name, info in runtime.datasets.items():
            contract = runtime.contracts[name]
            for field in (f for f in info.fields if info.is_direct_identifier(f)):
                query = store_rows.select_rows(contract, [field], [])
                found = {str(v) for v in conn.execute(query).scalars() if v is not None}
                values.setdefault(field, set()).update(found)
    return values


@pytest.fixture(scope="module")
def sample_values(runtime: BrokerRuntime) -> dict[tuple[str, str], Any]:
    """One stored value per (dataset, field), to build filters that match something."""
    samples: dict[tuple[str, str], Any] = {}
    with runtime.engine.connect() as conn:
        for name, contract in runtime.contracts.items():
            fields = list(runtime.datasets[name].fields)
            row = conn.execute(store_rows.select_rows(contract, fields, []).limit(1)).first()
            for field, value in zip(fields, row or (), strict=False):
                if isinstance(value, str | int):
                    samples[(name, field)] = value
    return samples


def _principal(runtime: BrokerRuntime, partner_id: str) -> Principal:
    return partner_principal(
        runtime, partner_id, jti="property", subject=f"{partner_id}-caseworker"
    )


def _release(
    runtime: BrokerRuntime, agreements: list[Agreement], partner: str, body: ShareRequestBody
) -> Released | None:
    """What the service releases under these agreements: (fields, rows of the first page)."""
    service = ShareService(dataclasses.replace(runtime, index=AgreementIndex.build(agreements)))
    try:
        page = service.share_page(
            _principal(runtime, partner), body, limit=PAGE, cursor=None, idempotency_key=None
        )
    except (PolicyDenied, InvalidRequest):
        return None
    return page.receipt.fields, page.rows


def _without_field(agreement: Agreement, field: str) -> Agreement:
    transforms = {k: v for k, v in agreement.transforms.items() if k != field}
    fields = tuple(f for f in agreement.fields if f != field)
    return agreement.model_copy(update={"fields": fields, "transforms": transforms})


@st.composite
def withdrawals(
    draw: st.DrawFn, agreements: tuple[Agreement, ...]
) -> tuple[Agreement, list[Agreement], str]:
    """An agreement aimed at, and the agreement set with one grant withdrawn."""
    target = draw(st.sampled_from(agreements))
    others = [a for a in agreements if a.id != target.id]
    kinds = ["whole_agreement", "another_agreement", "kept_identifiers"]
    if len(target.fields) > 1:
        kinds.append("one_field")
    if len(target.purposes) > 1:
        kinds.append("one_purpose")
    kind = draw(st.sampled_from(kinds))
    if kind == "whole_agreement":
        return target, others, kind
    if kind == "another_agreement":
        dropped = draw(st.sampled_from(others))
        return target, [a for a in agreements if a.id != dropped.id], kind
    if kind == "kept_identifiers":
        changed = target.model_copy(update={"keep_direct_identifiers": False})
    elif kind == "one_field":
        changed = _without_field(target, draw(st.sampled_from(target.fields)))
    else:
        purposes = tuple(p for p in target.purposes if p != draw(st.sampled_from(target.purposes)))
        changed = target.model_copy(update={"purposes": purposes})
    return target, [*others, changed], kind


def _body(
    draw: st.DrawFn, target: Agreement, runtime: BrokerRuntime, samples: dict[tuple[str, str], Any]
) -> ShareRequestBody:
    known = sorted(runtime.datasets[target.dataset].fields)
    fields = draw(
        st.none()
        | st.lists(
            st.sampled_from(sorted({*known, *target.fields})), min_size=1, max_size=4, unique=True
        )
    )
    filterable = [f for f in target.fields if (target.dataset, f) in samples]
    filters = None
    if filterable and draw(st.booleans()):
        field = draw(st.sampled_from(filterable))
        filters = {field: samples[(target.dataset, field)]}
    return ShareRequestBody(
        dataset=target.dataset,
        purpose=draw(st.sampled_from(target.purposes)),
        legal_basis=target.legal_basis,
        fields=fields,
        filters=filters,
    )


def _check_identifiers(
    runtime: BrokerRuntime,
    agreements: list[Agreement],
    partner: str,
    body: ShareRequestBody,
    released: Released,
    raw: dict[str, set[str]],
) -> None:
    fields, rows = released
    info = runtime.datasets[body.dataset]
    [agreement] = [
        a
        for a in agreements
        if a.partner == partner
        and a.dataset == body.dataset
        and body.purpose in a.purposes
        and a.legal_basis == body.legal_basis
    ]
    assert set(fields) - {"count"} <= set(agreement.fields)
    kept = {
        f
        for f in agreement.fields
        if info.is_direct_identifier(f)
        and agreement.keep_direct_identifiers
        and agreement.transforms.get(f) == "keep"
    }
    identity_codes = set().union(
        *(raw.get(f, set()) for f in info.fields if info.is_direct_identifier(f))
    )
    for row in rows:
        for column, value in row.items():
            if column in kept or value is None:
                continue
            assert str(value) not in identity_codes, (column, agreement.id)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_withdrawing_any_grant_never_releases_more(
    data: st.DataObject,
    runtime: BrokerRuntime,
    raw_identifiers: dict[str, set[str]],
    sample_values: dict[tuple[str, str], Any],
) -> None:
    agreements = runtime.config.agreements
    target, reduced, kind = data.draw(withdrawals(agreements))
    body = data.draw(st.composite(lambda draw: _body(draw, target, runtime, sample_values))())
    after = _release(runtime, reduced, target.partner, body)
    event(f"withdrawn: {kind}; reduced set {'releases' if after else 'denies'}")
    if after is None:
        return
    fields, rows = after
    _check_identifiers(runtime, reduced, target.partner, body, after, raw_identifiers)
    # Everything the reduced set releases, the full set releases too when asked for it.
    asked = body.model_copy(update={"fields": [f for f in fields if f != "count"]})
    before = _release(runtime, list(agreements), target.partner, asked)
    assert before is not None, (kind, body)
    assert before == (fields, rows)
    _check_identifiers(runtime, list(agreements), target.partner, asked, before, raw_identifiers)
