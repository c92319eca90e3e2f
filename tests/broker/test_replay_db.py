"""The database replay cache: one memory of spent token ids shared by every broker worker."""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from broker.auth.clock import system_clock
from broker.auth.replay_db import DatabaseReplayCache, token_replay
from broker.errors import ServiceUnavailable
from contracts.store import make_engine
from tests.broker.tokens import T0, FakeClock
from tillit.migrations import upgrade

ISSUER = "https://idp.kela.fi"
WORKERS = 2
RACED_JTIS = 200


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'replay.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(token_replay)).scalar_one()


def test_each_token_id_is_accepted_once_per_issuer(engine: Engine) -> None:
    cache = DatabaseReplayCache(engine, FakeClock())
    assert cache.add(ISSUER, "jti-1", T0 + 300) is True
    assert cache.add(ISSUER, "jti-1", T0 + 300) is False
    assert cache.add("https://idp.stat.fi", "jti-1", T0 + 300) is True
    assert cache.add(ISSUER, "jti-2", T0 + 300) is True


def test_another_worker_sees_the_same_memory(engine: Engine) -> None:
    assert DatabaseReplayCache(engine, FakeClock()).add(ISSUER, "jti-1", T0 + 300)
    assert not DatabaseReplayCache(engine, FakeClock()).add(ISSUER, "jti-1", T0 + 300)


def test_an_expired_id_is_forgotten_like_the_in_memory_cache(engine: Engine) -> None:
    clock = FakeClock()
    cache = DatabaseReplayCache(engine, clock)
    assert cache.add(ISSUER, "jti-1", T0 + 10)
    clock.advance(11)
    assert cache.add(ISSUER, "jti-1", T0 + 311)
    assert not cache.add(ISSUER, "jti-1", T0 + 311)


def test_expired_ids_are_purged(engine: Engine) -> None:
    clock = FakeClock()
    cache = DatabaseReplayCache(engine, clock, purge_every=1000)
    for index in range(5):
        cache.add(ISSUER, f"short-{index}", T0 + 10)
    cache.add(ISSUER, "long", T0 + 300)
    clock.advance(20)
    assert cache.purge() == 5
    assert _rows(engine) == 1
    # A new worker purges on its first add, so short-lived processes still clean up.
    cache.add(ISSUER, "short-late", T0 + 25)
    clock.advance(10)
    DatabaseReplayCache(engine, clock).add(ISSUER, "fresh", T0 + 400)
    assert _rows(engine) == 2


def test_an_unusable_database_fails_closed(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'no-table.db'}")
    with pytest.raises(ServiceUnavailable):
        DatabaseReplayCache(engine, FakeClock()).add(ISSUER, "jti-1", T0 + 300)
    engine.dispose()


def _race(
    url: str, jtis: list[str], seed: int, barrier: Barrier, results: Queue[list[str]]
) -> None:
    """One broker worker: wait for the others, then try to spend every jti in its own order."""
    # In one shared order the first worker would stay ahead and never truly collide.
    random.Random(seed).shuffle(jtis)
    engine = make_engine(url)
    cache = DatabaseReplayCache(engine, system_clock)
    # Connect (and take the first-add purge) before the barrier, so the workers start level.
    cache.add(ISSUER, f"warm-up-{os.getpid()}", time.time() + 300)
    barrier.wait(timeout=60)
    results.put([jti for jti in jtis if cache.add(ISSUER, jti, time.time() + 300)])
    engine.dispose()


def test_racing_worker_processes_accept_each_id_exactly_once(
    engine: Engine, database_url: str
) -> None:
    context = multiprocessing.get_context("spawn")
    jtis = [f"raced-{index}" for index in range(RACED_JTIS)]
    barrier = context.Barrier(WORKERS)
    results: Queue[list[str]] = context.Queue()
    workers = [
        context.Process(target=_race, args=(database_url, jtis, seed, barrier, results))
        for seed in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    accepted = Counter(jti for _ in workers for jti in results.get(timeout=120))
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert accepted == Counter(jtis)
    assert _rows(engine) == RACED_JTIS + WORKERS


def test_an_id_spent_inside_a_transaction_lasts_only_if_it_commits(engine: Engine) -> None:
    cache = DatabaseReplayCache(engine, FakeClock())
    with pytest.raises(RuntimeError), engine.begin() as conn:
        assert cache.add_in(conn, ISSUER, "jti-1", T0 + 300) is True
        raise RuntimeError("the share failed after spending its token")
    assert _rows(engine) == 0
    with engine.begin() as conn:
        assert cache.add_in(conn, ISSUER, "jti-1", T0 + 300) is True
    assert cache.add(ISSUER, "jti-1", T0 + 300) is False


def test_a_replay_inside_a_transaction_leaves_the_transaction_usable(engine: Engine) -> None:
    """On PostgreSQL a failed statement aborts its transaction; the spend never fails."""
    cache = DatabaseReplayCache(engine, FakeClock())
    assert cache.add(ISSUER, "jti-1", T0 + 300)
    with engine.begin() as conn:
        assert cache.add_in(conn, ISSUER, "jti-1", T0 + 300) is False
        assert cache.add_in(conn, ISSUER, "jti-2", T0 + 300) is True
    assert _rows(engine) == 2
