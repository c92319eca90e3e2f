"""The share lane: how many shares one worker process serves at once."""

from __future__ import annotations

import threading
import time
from functools import partial

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


def _ran_on_the_loop(lane: ShareLane, rows: int | None) -> bool:
    async def main() -> bool:
        loop_thread = threading.get_ident()
        return await lane.run(threading.get_ident, rows=rows) == loop_thread

    return anyio.run(main)


def test_small_pages_run_on_the_event_loop_and_the_rest_in_the_lane() -> None:
    lane = ShareLane(1, inline_rows=100)
    assert _ran_on_the_loop(lane, rows=1)
    assert _ran_on_the_loop(lane, rows=100)
    assert not _ran_on_the_loop(lane, rows=101)
    # A stream has no bound, so it always takes the thread.
    assert not _ran_on_the_loop(lane, rows=None)
    # By default nothing runs inline.
    assert not _ran_on_the_loop(ShareLane(1), rows=1)


def test_inline_shares_are_served_one_after_another() -> None:
    # Nothing else runs on the loop while an inline share does.
    lane = ShareLane(4, inline_rows=10)
    inside, most = 0, 0

    def work() -> None:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        time.sleep(0.01)
        inside -= 1

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(partial(lane.run, work, rows=5))

    anyio.run(main)
    assert most == 1


def test_the_lane_is_one_wide_on_sqlite_and_wider_on_a_database_server() -> None:
    assert BrokerSettings(database_url="sqlite:///var/x.db").share_lane_threads() == 1
    server = "postgresql+psycopg://tillit@db/tillit"
    assert BrokerSettings(database_url=server).share_lane_threads() == 8
    assert BrokerSettings(database_url=server, share_threads=3).share_lane_threads() == 3


def test_no_page_runs_inline_unless_configured() -> None:
    # A pipeline load holds SQLite's write lock for the whole load: a page waiting for it on
    # the event loop would stall the worker, so running pages inline is an explicit choice.
    assert BrokerSettings(database_url="sqlite:///var/x.db").share_inline_rows == 0
    assert BrokerSettings(share_inline_rows=100).share_inline_rows == 100
    with pytest.raises(ValueError, match="less than or equal"):
        BrokerSettings(share_inline_rows=10_001)
    with pytest.raises(ValueError, match="greater than or equal"):
        BrokerSettings(share_inline_rows=-1)
