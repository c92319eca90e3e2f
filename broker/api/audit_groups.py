"""JSON pages prepared on the event loop, audited in groups: one transaction, one commit."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from broker.api.limits import ShareLane
from broker.auth.verifier import TokenUse
from broker.sharing.service import PendingPage, SharePage, ShareService
from contracts.store import WriteTurnBusy

logger = logging.getLogger(__name__)

# Seconds the group waits between tries of a busy write turn on the event loop, before the
# lane's thread waits for it instead.
TURN_RETRY_PAUSES: Final = (0.0003, 0.0006, 0.0012, 0.0025)
# Pages audited in one transaction at most; the rest wait for the next.
MAX_GROUP: Final = 64


@dataclass
class _Waiting:
    pending: PendingPage
    use: TokenUse | None
    outcome: asyncio.Future[SharePage] = field(repr=False)


class AuditGroups:
    """Audits the JSON pages one event loop has prepared together, in one audit transaction.

    On SQLite a share's audit transaction is mostly the transaction itself: taking the write
    turn, BEGIN, and the COMMIT that writes the pages it touched to the log (the tails of the
    same tables and indexes, share after share). A page prepared on the event loop therefore
    joins the open group and waits; the group is written once the loop has run the work that
    was already ready (requests that arrived meanwhile prepare their pages and join it), so
    under load each commit carries several shares and each share pays for a fraction of one.
    Every page still gets its own audit record, spends its own token and gets its own answer
    (``ShareService.commit_pages``), and no page is answered before its group has committed.

    The write turn is tried without waiting; while another writer holds it the group waits on
    the loop for short pauses (pages arriving meanwhile join it), then in the lane's thread, so
    the loop never waits for a lock.
    """

    def __init__(self, service: ShareService) -> None:
        self.service = service
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def commit(
        self, pending: PendingPage, use: TokenUse | None, lane: ShareLane
    ) -> SharePage:
        """The page once its group's audit transaction has committed; its error otherwise."""
        waiting = _Waiting(pending, use, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(lane))
        return await waiting.outcome

    async def _write(self, lane: ShareLane) -> None:
        """Write groups until no page waits."""
        try:
            # One turn of the loop first: requests already ready prepare their pages and join.
            await asyncio.sleep(0)
            while self._waiting:
                await self._write_group(lane)
        except BaseException as error:  # never leave a page waiting for ever
            self._fail(self._waiting, error)
            self._waiting = []
            raise
        finally:
            self._writer = None

    async def _write_group(self, lane: ShareLane) -> None:
        pauses = iter(TURN_RETRY_PAUSES)
        while group := self._take():
            pages = self._pages(group)
            try:
                try:
                    outcomes = self.service.commit_pages(pages, wait=False)
                except WriteTurnBusy:
                    pause = next(pauses, None)
                    if pause is not None:
                        # Nothing was written; pages that arrive meanwhile join the group.
                        await asyncio.sleep(pause)
                        continue
                    outcomes = await lane.run(partial(self.service.commit_pages, pages))
            except Exception as error:  # the group's transaction failed: every page fails
                self._done(group)
                self._fail(group, error)
                return
            self._done(group)
            self._settle(group, outcomes)
            return

    def _take(self) -> list[_Waiting]:
        """The group to write now: the waiting pages whose requests still wait for them."""
        self._waiting = [waiting for waiting in self._waiting if not waiting.outcome.done()]
        return self._waiting[:MAX_GROUP]

    def _done(self, group: list[_Waiting]) -> None:
        """Take a written group out of the waiting pages (later pages joined at the end)."""
        del self._waiting[: len(group)]

    @staticmethod
    def _pages(group: list[_Waiting]) -> list[tuple[PendingPage, TokenUse | None]]:
        return [(waiting.pending, waiting.use) for waiting in group]

    @staticmethod
    def _settle(group: list[_Waiting], outcomes: list[SharePage | Exception]) -> None:
        for waiting, outcome in zip(group, outcomes, strict=True):
            if waiting.outcome.done():  # its request is gone; the record stays
                continue
            if isinstance(outcome, Exception):
                waiting.outcome.set_exception(outcome)
            else:
                waiting.outcome.set_result(outcome)

    @staticmethod
    def _fail(group: list[_Waiting], error: BaseException) -> None:
        for waiting in group:
            if waiting.outcome.done():
                continue
            if isinstance(error, asyncio.CancelledError):
                waiting.outcome.cancel()
            else:
                waiting.outcome.set_exception(error)
