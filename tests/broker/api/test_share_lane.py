"""The share lane: how many shares one worker process serves at once."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from broker.api.limits import ShareLane
from broker.config.settings import BrokerSettings


def _most_at_once(lane: ShareLane, calls: int) -> int:
    inside, most = 0, 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.02)
        with guard:
            inside -= 1

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(calls):
                group.start_soon(lane.run, work)

    anyio.run(main)
    return most


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_lane_runs_at_most_its_width_at_once(threads: int) -> None:
    assert _most_at_once(ShareLane(threads), calls=6) == threads


def test_one_lane_serves_event_loops_one_after_another() -> None:
    # Each event loop (a worker, a test client) gets its own limiter of the lane's width.
    lane = ShareLane(2)
    assert _most_at_once(lane, calls=4) == 2
    assert _most_at_once(lane, calls=4) == 2


def test_the_work_runs_off_the_event_loop_and_its_result_comes_back() -> None:
    loop_thread = threading.get_ident()

    async def main() -> int:
        return await ShareLane(1).run(threading.get_ident)

    assert anyio.run(main) != loop_thread


def test_a_lane_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        ShareLane(0)
    with pytest.raises(ValueError, match="negative"):
        ShareLane(1, inline_rows=-1)


def test_small_pages_are_served_inline_and_streams_never() -> None:
    lane = ShareLane(1, inline_rows=100)
    assert lane.serves_inline(1)
    assert lane.serves_inline(100)
    assert not lane.serves_inline(101)
    # A stream has no bound, so it always takes the thread.
    assert not lane.serves_inline(None)
    # A lane built without inline rows serves nothing inline.
    assert not ShareLane(1).serves_inline(1)


def test_run_always_takes_a_thread_even_in_a_lane_serving_pages_inline() -> None:
    async def main() -> bool:
        return await ShareLane(1, inline_rows=1000).run(threading.get_ident) != (
            threading.get_ident()
        )

    assert anyio.run(main)


def test_the_lane_is_one_wide_on_sqlite_and_wider_on_a_database_server() -> None:
    assert BrokerSettings(database_url="sqlite:///var/x.db").share_lane_threads() == 1
    server = "postgresql+psycopg://tillit@db/tillit"
    assert BrokerSettings(database_url=server).share_lane_threads() == 8
    assert BrokerSettings(database_url=server, share_threads=3).share_lane_threads() == 3


def test_pages_run_inline_by_default_on_sqlite_only() -> None:
    # On SQLite a page's read never waits for a writer and its audit transaction waits in the
    # lane when the write turn is busy; on a database server every read waits on the network.
    assert BrokerSettings(database_url="sqlite:///var/x.db").share_lane_inline_rows() == 1000
    server = "postgresql+psycopg://tillit@db/tillit"
    assert BrokerSettings(database_url=server).share_lane_inline_rows() == 0
    assert BrokerSettings(database_url=server, share_inline_rows=5).share_lane_inline_rows() == 5
    assert BrokerSettings(share_inline_rows=0).share_lane_inline_rows() == 0
    with pytest.raises(ValueError, match="less than or equal"):
        BrokerSettings(share_inline_rows=10_001)
    with pytest.raises(ValueError, match="greater than or equal"):
        BrokerSettings(share_inline_rows=-1)
