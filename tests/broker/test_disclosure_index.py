"""The citizens' disclosure index: batches written with the share, indexed in the background,
read merged so nothing is missed or counted twice, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from broker.store.disclosures import (
    DisclosureIndexer,
    batch_holds,
    disclosures_of,
    index_pending,
    pack_batch_ids,
    pack_subject_keys,
    pending_batches,
    postings,
    record_batch,
    unpack_batch_ids,
    unpack_subject_keys,
)
from broker.store.tables import disclosure_batches, disclosure_subjects
from contracts.store import make_engine, sqlite_writer
from tillit.migrations import downgrade, upgrade

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def key(label: object) -> str:
    return hashlib.sha256(str(label).encode()).hexdigest()


keys = st.lists(st.binary(min_size=32, max_size=32).map(bytes.hex), max_size=60)


@given(members=keys, others=keys)
def test_a_packed_batch_holds_exactly_its_subjects(members: list[str], others: list[str]) -> None:
    packed = pack_subject_keys([*members, None, *members])
    assert unpack_subject_keys(packed) == sorted(set(members))
    for member in members:
        assert batch_holds(packed, member)
    for other in set(others) - set(members):
        assert not batch_holds(packed, other)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated store of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tillit.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def share(
    engine: Engine,
    share_id: str,
    subjects: Sequence[str | None],
    *,
    at: datetime = NOW,
    hidden: timedelta = timedelta(0),
) -> None:
    with sqlite_writer(engine), engine.begin() as conn:
        record_batch(
            conn,
            subjects,
            share_id=share_id,
            partner="lahti-education",
            dataset="persons",
            purpose="ece_placement",
            legal_basis="ece_act_540_2018",
            agreement_id="lahti-education-ece-placement",
            disclosed_at=at,
            visible_from=at + hidden,
        )


def about(engine: Engine, subject: str, now: datetime = NOW) -> list[str]:
    with engine.connect() as conn:
        return [item.share_id for item in disclosures_of(conn, subject, now)]


def index_rows(engine: Engine) -> list[tuple[str, str]]:
    """The per-subject index as (hex key, share id) pairs, one per posted batch."""
    with engine.connect() as conn:
        shares = dict(
            conn.execute(sa.select(disclosure_batches.c.id, disclosure_batches.c.share_id)).all()
        )
        postings = conn.execute(
            sa.select(disclosure_subjects.c.subject_key, disclosure_subjects.c.batch_ids)
        ).all()
    return sorted(
        (bytes(row.subject_key).hex(), shares[batch_id])
        for row in postings
        for batch_id in unpack_batch_ids(row.batch_ids)
    )


def posting_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(disclosure_subjects)).scalar_one()
        )


# ``disclosure_subjects`` as revision 0004 kept it: one entry per subject and batch.
entry_index = sa.table("disclosure_subjects", sa.column("subject_key"), sa.column("batch_id"))


def entry_rows(engine: Engine) -> list[tuple[str, str]]:
    query = sa.select(entry_index.c.subject_key, disclosure_batches.c.share_id).join(
        disclosure_batches, disclosure_batches.c.id == entry_index.c.batch_id
    )
    with engine.connect() as conn:
        return sorted((bytes(row.subject_key).hex(), row.share_id) for row in conn.execute(query))


# ``disclosures`` as revisions 0001 to 0003 kept it: one wide row per subject and share.
wide_index = sa.table(
    "disclosures",
    *(
        sa.column(name)
        for name in ("subject_key", "share_id", "partner", "dataset", "purpose")
        + ("legal_basis", "agreement_id", "disclosed_at", "visible_from")
    ),
)


def wide_rows(engine: Engine) -> list[tuple[str, str]]:
    query = sa.select(wide_index.c.subject_key, wide_index.c.share_id)
    with engine.connect() as conn:
        return sorted((row.subject_key, row.share_id) for row in conn.execute(query))


def test_a_disclosure_is_visible_before_and_after_indexing_and_only_once(engine: Engine) -> None:
    alice, bob = key("alice"), key("bob")
    share(engine, "s1", [alice, bob], at=NOW - timedelta(hours=2))
    share(engine, "s2", [bob], at=NOW - timedelta(hours=1))
    # A stream writes one batch per chunk under the same share; a person in two chunks is
    # still one disclosure.
    share(engine, "s3", [alice], at=NOW)
    share(engine, "s3", [alice, None], at=NOW)
    before = {subject: about(engine, subject) for subject in (alice, bob, key("carol"))}
    assert before == {alice: ["s3", "s1"], bob: ["s2", "s1"], key("carol"): []}

    copied = index_pending(engine, NOW)
    assert (copied.batches, copied.subjects) == (4, 5)
    with engine.connect() as conn:
        assert pending_batches(conn) == 0
    assert index_rows(engine) == sorted(
        [(alice, "s1"), (bob, "s1"), (bob, "s2"), (alice, "s3"), (alice, "s3")]
    )
    assert {subject: about(engine, subject) for subject in before} == before
    assert index_pending(engine, NOW).batches == 0


def test_a_hidden_disclosure_appears_when_its_time_comes(engine: Engine) -> None:
    alice = key("alice")
    share(engine, "child-protection", [alice], hidden=timedelta(days=30))
    assert about(engine, alice) == []
    assert about(engine, alice, NOW + timedelta(days=30)) == ["child-protection"]
    index_pending(engine, NOW)
    assert about(engine, alice) == []
    assert about(engine, alice, NOW + timedelta(days=30)) == ["child-protection"]


def test_a_round_copies_whole_batches_up_to_its_budget(engine: Engine) -> None:
    for number in range(4):
        share(engine, f"s{number}", [key((number, person)) for person in range(3)])
    first = index_pending(engine, NOW, budget=5)
    # Batches are taken while fewer than 5 subjects are claimed: 3, then 3 more.
    assert (first.batches, first.subjects, first.full(5)) == (2, 6, True)
    second = index_pending(engine, NOW, budget=100)
    assert (second.batches, second.subjects, second.full(100)) == (2, 6, False)
    assert len(index_rows(engine)) == 12


def test_concurrent_indexers_copy_each_batch_once(engine: Engine) -> None:
    expected = []
    for number in range(40):
        subjects = [key((number, person)) for person in range(25)]
        share(engine, f"s{number}", subjects)
        expected += [(subject, f"s{number}") for subject in subjects]
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            while index_pending(engine, NOW, budget=60).batches:
                pass
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert index_rows(engine) == sorted(expected)


def test_the_background_indexer_drains_pending_batches(engine: Engine) -> None:
    for number in range(5):
        share(engine, f"s{number}", [key(number)])
    indexer = DisclosureIndexer(engine, NOW.timestamp, poll_interval=0.05)
    indexer.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if pending_batches(conn) == 0:
                    break
            time.sleep(0.05)
    finally:
        assert indexer.stop(timeout=10)
    assert len(index_rows(engine)) == 5


def test_downgrading_copies_pending_batches_into_the_index(engine: Engine) -> None:
    alice, bob = key("alice"), key("bob")
    share(engine, "indexed", [alice])
    index_pending(engine, NOW)
    share(engine, "pending", [alice, bob])
    downgrade(engine, "0002")
    assert "disclosure_batches" not in sa.inspect(engine).get_table_names()
    assert wide_rows(engine) == sorted([(alice, "indexed"), (alice, "pending"), (bob, "pending")])
    upgrade(engine)
    with engine.connect() as conn:
        assert pending_batches(conn) == 0
    assert index_rows(engine) == sorted([(alice, "indexed"), (alice, "pending"), (bob, "pending")])
    assert about(engine, alice) == ["indexed", "pending"]
    assert about(engine, bob) == ["pending"]


def test_upgrading_moves_the_wide_index_into_batches_and_keeps_every_disclosure(
    engine: Engine,
) -> None:
    alice, bob, carol = key("alice"), key("bob"), key("carol")
    downgrade(engine, "0003")
    # An entry from before batches existed, with no batch of its own (as a subject's own
    # data export wrote them), a batch already indexed and one still pending.
    legacy = {
        "share_id": "legacy",
        "partner": "lahti-education",
        "dataset": "persons",
        "purpose": "ece_placement",
        "legal_basis": "ece_act_540_2018",
        "agreement_id": "lahti-education-ece-placement",
        "disclosed_at": NOW - timedelta(days=2),
        "visible_from": NOW - timedelta(days=2),
    }
    with engine.begin() as conn:
        conn.execute(
            wide_index.insert(),
            [{"subject_key": alice, **legacy}, {"subject_key": bob, **legacy}],
        )
        conn.execute(
            sa.text(
                "INSERT INTO disclosure_batches (share_id, partner, dataset, purpose, "
                "legal_basis, agreement_id, disclosed_at, visible_from, subject_keys, "
                "subject_count, indexed_at) SELECT 'indexed', partner, dataset, purpose, "
                "legal_basis, agreement_id, :at, :at, :keys, 1, :at FROM disclosures LIMIT 1"
            ),
            {"at": NOW - timedelta(days=1), "keys": bytes.fromhex(carol)},
        )
        conn.execute(
            wide_index.insert(),
            {**legacy, "subject_key": carol, "share_id": "indexed"}
            | {"disclosed_at": NOW - timedelta(days=1), "visible_from": NOW - timedelta(days=1)},
        )
    share(engine, "pending", [alice, carol])
    before = {subject: about_wide(engine, subject) for subject in (alice, bob, carol)}
    assert before == {alice: ["pending", "legacy"], bob: ["legacy"], carol: ["pending", "indexed"]}

    upgrade(engine)
    assert "disclosures" not in sa.inspect(engine).get_table_names()
    assert {subject: about(engine, subject) for subject in before} == before
    assert index_rows(engine) == sorted([(alice, "legacy"), (bob, "legacy"), (carol, "indexed")])
    with engine.connect() as conn:
        assert pending_batches(conn) == 1
        gathered = conn.execute(
            sa.select(disclosure_batches).where(disclosure_batches.c.share_id == "legacy")
        ).one()
    assert gathered.subject_keys == pack_subject_keys([alice, bob])
    assert gathered.subject_count == 2 and isinstance(gathered.indexed_at, datetime)
    index_pending(engine, NOW)
    assert {subject: about(engine, subject) for subject in before} == before

    downgrade(engine, "0003")
    assert wide_rows(engine) == sorted(
        [(alice, "legacy"), (bob, "legacy"), (carol, "indexed")]
        + [(alice, "pending"), (carol, "pending")]
    )


def about_wide(engine: Engine, subject: str) -> list[str]:
    """A subject's shares as revision 0003 reads them: pending batches and the wide index."""
    with engine.connect() as conn:
        pending = conn.execute(
            sa.select(disclosure_batches.c.share_id, disclosure_batches.c.subject_keys).where(
                disclosure_batches.c.indexed_at.is_(None)
            )
        ).all()
        indexed = conn.execute(
            sa.select(wide_index.c.share_id).where(wide_index.c.subject_key == subject)
        ).scalars()
        found = {row.share_id for row in pending if batch_holds(row.subject_keys, subject)}
        found |= set(indexed)
    # Newest first, as disclosures_of orders them; the names above sort that way by date.
    order = ["pending", "indexed", "legacy"]
    return sorted(found, key=order.index)


@given(ids=st.lists(st.integers(min_value=0, max_value=2**63 - 1), max_size=40))
def test_packed_batch_ids_read_back_in_order(ids: list[int]) -> None:
    packed = pack_batch_ids(ids)
    assert len(packed) == 8 * len(ids)
    assert unpack_batch_ids(packed) == tuple(sorted(ids))


@dataclass(frozen=True)
class _Claimed:
    id: int
    subject_keys: bytes


@given(
    rounds=st.dictionaries(
        st.integers(min_value=1, max_value=2**40),
        st.sets(st.sampled_from([bytes([n]) * 32 for n in range(12)])),
        max_size=8,
    )
)
def test_a_round_has_one_posting_per_subject_naming_each_of_its_batches(
    rounds: dict[int, set[bytes]],
) -> None:
    claimed = [_Claimed(batch_id, b"".join(sorted(keys))) for batch_id, keys in rounds.items()]
    expected: dict[bytes, list[int]] = {}
    for batch_id, keys in rounds.items():
        for subject in keys:
            expected.setdefault(subject, []).append(batch_id)
    entries = postings(claimed)
    assert [subject for subject, _, _ in entries] == sorted(expected)
    for subject, first, packed in entries:
        assert unpack_batch_ids(packed) == tuple(sorted(expected[subject]))
        assert first == min(expected[subject])


def test_a_subject_released_by_many_shares_of_a_round_is_one_posting(engine: Engine) -> None:
    alice = key("alice")
    for number in range(50):
        share(engine, f"s{number:02}", [alice, key(number)], at=NOW - timedelta(minutes=number))
    assert index_pending(engine, NOW).subjects == 100
    # alice's one posting names all fifty batches; each other subject has a posting of one.
    assert posting_count(engine) == 51
    assert len(index_rows(engine)) == 100
    assert about(engine, alice) == [f"s{number:02}" for number in range(50)]
    assert about(engine, key(7)) == ["s07"]
    # A later round writes a posting of its own; the list reads both.
    share(engine, "later", [alice], at=NOW)
    index_pending(engine, NOW)
    assert posting_count(engine) == 52
    assert about(engine, alice) == ["later"] + [f"s{number:02}" for number in range(50)]


_examples = iter(range(10**9))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plan=st.lists(
        st.tuples(
            st.sets(st.integers(min_value=0, max_value=5), max_size=6),
            st.one_of(st.none(), st.integers(min_value=1, max_value=12)),
        ),
        min_size=1,
        max_size=14,
    )
)
def test_every_disclosure_is_listed_once_however_the_rounds_fall(
    engine: Engine, plan: list[tuple[set[int], int | None]]
) -> None:
    """Shares of a small pool of people, with indexing rounds of any budget between them (or
    none): each person's list is exactly the shares that released them, newest first."""
    example = next(_examples)
    pool = [key((example, person)) for person in range(6)]
    expected: dict[str, list[str]] = {subject: [] for subject in pool}
    for number, (people, budget) in enumerate(plan):
        share_id = f"e{example}-s{number:02}"
        share(
            engine,
            share_id,
            [pool[person] for person in people],
            at=NOW + timedelta(seconds=number),
        )
        for person in people:
            expected[pool[person]].insert(0, share_id)
        if budget is not None:
            index_pending(engine, NOW + timedelta(minutes=1), budget=budget)
    later = NOW + timedelta(minutes=1)
    assert {subject: about(engine, subject, later) for subject in pool} == expected
    while index_pending(engine, later).batches:
        pass
    assert {subject: about(engine, subject, later) for subject in pool} == expected


def test_downgrading_to_one_entry_a_batch_and_back_keeps_the_index(engine: Engine) -> None:
    alice, bob = key("alice"), key("bob")
    for number in range(3):
        share(
            engine,
            f"s{number}",
            [alice] + ([bob] if number == 1 else []),
            at=NOW - timedelta(hours=number),
        )
    index_pending(engine, NOW)
    share(engine, "pending", [bob], at=NOW)
    indexed = [(alice, "s0"), (alice, "s1"), (alice, "s2"), (bob, "s1")]
    before = {subject: about(engine, subject) for subject in (alice, bob)}
    assert before == {alice: ["s0", "s1", "s2"], bob: ["pending", "s1"]}

    downgrade(engine, "0004")
    assert entry_rows(engine) == sorted(indexed)
    with engine.connect() as conn:
        assert pending_batches(conn) == 1

    upgrade(engine)
    assert index_rows(engine) == sorted(indexed)
    assert posting_count(engine) == 2
    assert {subject: about(engine, subject) for subject in before} == before
