"""Privacy attacks by partners: linking pseudonyms across partners, recomputing suppressed cells
from totals (within a table and across tables), and differencing two aggregate queries."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from broker.auth.principal import Principal
from broker.policy import AgreementIndex
from broker.privacy import Pseudonymiser, derive_partner_key
from broker.runtime import BrokerRuntime, build_runtime
from broker.sharing.models import ShareRequestBody
from broker.sharing.service import ShareService
from contracts.disclosure import TOTAL
from tests.broker.app.conftest import Minter
from tests.broker.app.helpers import partner_principal
from tests.security.attack import assert_problem, broker_settings, private_store, table_count

ANALYTICS = ShareRequestBody(
    dataset="persons",
    purpose="knowledge_management",
    legal_basis="information_management_act_906_2019",
    fields=["person_id", "birth_date", "move_in_date"],
)
STATISTICS = {
    "ece_placements": {
        "dataset": "ece_placements",
        "purpose": "official_statistics",
        "legal_basis": "statistics_act_280_2004",
    },
    "households": {
        "dataset": "households",
        "purpose": "official_statistics",
        "legal_basis": "statistics_act_280_2004",
    },
}
MIN_CELL = 5
PEOPLE = 500


# -- linking pseudonyms ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def runtime(
    tmp_path_factory: pytest.TempPathFactory, loaded_store: Path, broker_config: dict[str, Path]
) -> Iterator[BrokerRuntime]:
    store = private_store(loaded_store, tmp_path_factory.mktemp("privacy-attacks"))
    built = build_runtime(broker_settings(broker_config, store))
    yield built
    built.engine.dispose()


def _as(runtime: BrokerRuntime, partner_id: str) -> Principal:
    return partner_principal(runtime, partner_id, jti="privacy")


def _people(runtime: BrokerRuntime, partner: str, body: ShareRequestBody) -> list[dict[str, Any]]:
    """The first PEOPLE rows released to `partner` (rows come in identity-code order)."""
    # Asikkala gets the analytics unit's pseudonymising agreement too, so both partners hold
    # pseudonyms of exactly the same people.
    original = next(a for a in runtime.config.agreements if a.id == "lahti-analytics-new-residents")
    twin = original.model_copy(update={"id": "asikkala-new-residents", "partner": "asikkala"})
    index = AgreementIndex.build([*runtime.config.agreements, twin])
    service = ShareService(dataclasses.replace(runtime, index=index))
    page = service.share_page(
        _as(runtime, partner), body, limit=PEOPLE, cursor=None, idempotency_key=None
    )
    return page.rows


def _naive_guesses(code: str, partner: str, purpose: str) -> set[str]:
    """What an attacker who knows the identity code and the scheme but not the key might try."""
    guesses = {
        hashlib.sha256(code.encode()).hexdigest(),
        hashlib.sha256(f"{partner}:{code}".encode()).hexdigest(),
        hashlib.sha256(f"{partner}{purpose}{code}".encode()).hexdigest(),
        hmac.new(partner.encode(), code.encode(), "sha256").hexdigest(),
        hmac.new(b"", code.encode(), "sha256").hexdigest(),
    }
    for guessed_master in (b"k" * 31 + b"j", b"\x00" * 32, b"tillit" * 6):
        key = derive_partner_key(guessed_master, partner, purpose)
        guesses.add(Pseudonymiser(key).pseudonym(code))
    return guesses


def test_two_partners_pseudonyms_of_the_same_people_cannot_be_linked(
    runtime: BrokerRuntime,
) -> None:
    analytics = _people(runtime, "lahti-analytics", ANALYTICS)
    asikkala = _people(runtime, "asikkala", ANALYTICS)
    assert len(analytics) == len(asikkala) == PEOPLE
    # The same people in the same order, with the same generalised values...
    assert [(r["birth_date"], r["move_in_date"]) for r in analytics] == [
        (r["birth_date"], r["move_in_date"]) for r in asikkala
    ]
    ours = [r["person_id"] for r in analytics]
    theirs = [r["person_id"] for r in asikkala]
    # ...yet no pseudonym is shared, and each partner's are distinct per person.
    assert not set(ours) & set(theirs)
    assert len(set(ours)) == len(set(theirs)) == PEOPLE


def test_pseudonyms_cannot_be_derived_without_the_broker_secret(runtime: BrokerRuntime) -> None:
    clear = ShareService(runtime).share_page(
        _as(runtime, "lahti-education"),
        ShareRequestBody(
            dataset="persons",
            purpose="ece_placement",
            legal_basis="ece_act_540_2018",
            fields=["person_id", "birth_date"],
        ),
        limit=PEOPLE,
        cursor=None,
        idempotency_key=None,
    )
    pseudonyms = {r["person_id"] for r in _people(runtime, "lahti-analytics", ANALYTICS)}
    codes = [r["person_id"] for r in clear.rows]
    assert codes and not set(codes) & pseudonyms
    for code in codes:
        assert not _naive_guesses(code, "lahti-analytics", "knowledge_management") & pseudonyms
    # The check has teeth: with the broker's real key the same derivation does link them.
    real = Pseudonymiser(
        derive_partner_key(runtime.secrets.pseudonym_key, "lahti-analytics", "knowledge_management")
    )
    assert {real.pseudonym(code) for code in codes} & pseudonyms


# -- recomputing suppressed cells -----------------------------------------------------------

Key = frozenset[tuple[str, str]]


@dataclasses.dataclass
class Attacker:
    """Everything a partner learns from published tables, and the sums they must satisfy."""

    known: dict[Key, int] = dataclasses.field(default_factory=dict)
    unknown: set[Key] = dataclasses.field(default_factory=set)
    equations: list[tuple[Key, list[Key]]] = dataclasses.field(default_factory=list)

    def learn(self, key: Key, count: int | None) -> None:
        if count is None:
            self.unknown.add(key)
        else:
            assert self.known.setdefault(key, count) == count, key
            assert not 0 < count < MIN_CELL, (key, count)

    def read_table(self, dimensions: list[str], rows: list[dict[str, Any]]) -> None:
        cells: dict[tuple[str, ...], int | None] = {}
        for row in rows:
            values = tuple(str(row[d]) for d in dimensions)
            cells[values] = row["count"]
            self.learn(_key(dimensions, values), row["count"])
        categories = [
            sorted({v[i] for v in cells if v[i] != TOTAL}) for i in range(len(dimensions))
        ]
        for axis in range(len(dimensions)):
            # For every fixed value of the other dimensions, the members sum to the total.
            others = [categories[i] + [TOTAL] for i in range(len(dimensions)) if i != axis]
            for fixed in itertools.product(*others):

                def at(value: str, fixed: tuple[str, ...] = fixed, axis: int = axis) -> Key:
                    values = list(fixed)
                    values.insert(axis, value)
                    return _key(dimensions, tuple(values))

                self.equations.append((at(TOTAL), [at(v) for v in categories[axis]]))

    def solve(self) -> dict[Key, int]:
        """Every hidden cell that sums with a single unknown pin down, repeated to a fixpoint."""
        found: dict[Key, int] = {}
        progress = True
        while progress:
            progress = False
            for total, members in self.equations:
                terms = [total, *members]
                missing = [k for k in terms if k not in self.known]
                if len(missing) != 1:
                    continue
                (key,) = missing
                rest = sum(self.known[m] for m in members if m != key)
                value = self.known[total] - rest if key != total else rest
                self.known[key] = found[key] = value
                progress = True
        return found


def _key(dimensions: list[str], values: tuple[str, ...]) -> Key:
    # A margin of a cross-table is the same quantity as the cell of a one-way table.
    return frozenset((d, v) for d, v in zip(dimensions, values, strict=True) if v != TOTAL)


@pytest.mark.parametrize("dataset", sorted(STATISTICS))
def test_no_suppressed_cell_can_be_recomputed_from_totals_even_across_tables(
    client: TestClient, auth: Minter, dataset: str
) -> None:
    config = client.app.state.runtime.config  # type: ignore[attr-defined]
    [agreement] = [
        a for a in config.agreements if a.partner == "statistics-finland" and a.dataset == dataset
    ]
    attacker = Attacker()
    tables = [[f] for f in agreement.fields] + [
        list(pair) for pair in itertools.combinations(agreement.fields, 2)
    ]
    for dimensions in tables:
        request = {**STATISTICS[dataset], "fields": dimensions}
        response = client.post("/v1/shares", json=request, headers=auth("statistics-finland"))
        assert response.status_code == 200, response.text
        assert response.json()["fields"] == [*dimensions, "count"]
        attacker.read_table(dimensions, response.json()["rows"])
    hidden = attacker.unknown - attacker.known.keys()
    assert hidden, "the test data should make some cells small enough to suppress"
    recomputed = attacker.solve()
    disclosed = {key: value for key, value in recomputed.items() if 0 < value < MIN_CELL}
    assert disclosed == {}


def test_the_attacker_finds_a_cell_left_alone_by_secondary_suppression() -> None:
    """The solver is a real attacker: one hidden cell in a line with its total is recovered."""
    attacker = Attacker()
    rows = [
        {"district": "A", "count": 7},
        {"district": "B", "count": None},
        {"district": TOTAL, "count": 10},
    ]
    attacker.read_table(["district"], rows)
    assert attacker.solve() == {frozenset({("district", "B")}): 3}


# -- differencing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [
        {"district": "Keskusta"},
        {"municipality_code": "398"},
        {"adults": 2},
        {"household_type": None},
        {"not_a_field": "x"},
    ],
)
def test_two_aggregates_differing_by_one_person_cannot_be_asked_for(
    client: TestClient, auth: Minter, filters: dict[str, Any]
) -> None:
    """Aggregate-only agreements refuse every filter, so no second query can narrow the first."""
    request = {**STATISTICS["households"], "fields": ["district"]}
    whole = client.post("/v1/shares", json=request, headers=auth("statistics-finland"))
    assert whole.status_code == 200, whole.text
    audited = table_count(client, "audit_log")
    narrowed = client.post(
        "/v1/shares", json={**request, "filters": filters}, headers=auth("statistics-finland")
    )
    assert_problem(narrowed, 403, "filter_not_permitted")
    # The refusal is itself audited, and nothing else was written.
    assert table_count(client, "audit_log") == audited + 1
    assert table_count(client, "share_receipts") == 1


def test_aggregates_are_counted_by_one_or_two_fields(client: TestClient, auth: Minter) -> None:
    """Asking for every field at once used to crash the broker; it is a 422 now."""
    for fields in (None, ["district", "adults", "children"]):
        request = {**STATISTICS["households"], "fields": fields}
        response = client.post("/v1/shares", json=request, headers=auth("statistics-finland"))
        assert_problem(response, 422, "invalid_request")
    assert table_count(client, "share_receipts") == 0
