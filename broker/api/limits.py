"""Resource limits in front of the routes: request body size, JSON nesting depth, request rate."""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broker.api.problems import ProblemResponse, invalid_request_problem
from broker.auth.clock import Clock, system_clock
from broker.errors import PayloadTooLarge, RateLimited, RequestTimeout, TillitError

T = TypeVar("T")

DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_JSON_DEPTH = 32
# A whole request body (at most 64 KiB by default) must arrive within this many seconds, so a
# client dribbling its body cannot hold a connection and its buffer for ever.
DEFAULT_BODY_READ_TIMEOUT_SECONDS = 30.0

# A JSON string (possessive, so an unterminated one cannot make the scan quadratic) or a bracket.
_JSON_TOKEN = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"?|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")
_CLOSERS = frozenset(b"]}")


def json_depth_exceeds(body: bytes, max_depth: int) -> bool:
    """True if `body` nests arrays and objects deeper than `max_depth`, ignoring strings."""
    depth = 0
    for token in _JSON_TOKEN.finditer(body):
        first = body[token.start()]
        if first in _OPENERS:
            depth += 1
            if depth > max_depth:
                return True
        elif first in _CLOSERS:
            depth = max(depth - 1, 0)
    return False


def _is_json(headers: Headers) -> bool:
    content_type = headers.get("content-type")
    if content_type is None:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _declared_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


class BodySizeLimitMiddleware:
    """Answers 413 to bodies over `max_body_bytes`, 408 to bodies slower than
    `body_read_timeout` seconds, and 422 to JSON nested too deeply.

    Starlette's RequestBodyLimitMiddleware answers some oversized requests in text/plain and
    cannot see the nesting depth, so this one reads the body itself, up to the limit and never
    further, scans it, and hands the app the buffered body. Because the buffer is bounded by
    the limit, memory per request stays flat however large or slow the upload.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
        body_read_timeout: float = DEFAULT_BODY_READ_TIMEOUT_SECONDS,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.body_read_timeout = body_read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = _declared_length(headers)
        if declared is not None and declared > self.max_body_bytes:
            # Refused before reading a byte, so an `Expect: 100-continue` upload never starts.
            await self._reject(scope, receive, send, PayloadTooLarge(self._too_large_detail))
            return
        try:
            with anyio.fail_after(self.body_read_timeout):
                body = await self._read_body(receive)
        except ClientDisconnect:
            return
        except TimeoutError:
            detail = f"The request body did not arrive within {self.body_read_timeout:g} seconds."
            await self._reject(scope, receive, send, RequestTimeout(detail))
            return
        if body is None:
            await self._reject(scope, receive, send, PayloadTooLarge(self._too_large_detail))
            return
        if body and _is_json(headers) and json_depth_exceeds(body, self.max_json_depth):
            # Refused here, before json.loads or pydantic can recurse that deep.
            error = {
                "loc": ["body"],
                "msg": f"JSON nested deeper than {self.max_json_depth} levels",
                "type": "json_too_deep",
            }
            path = scope["path"]
            await ProblemResponse(invalid_request_problem([error], path), status_code=422)(
                scope, receive, send
            )
            return
        await self.app(scope, _replay(body, receive), send)

    @property
    def _too_large_detail(self) -> str:
        return f"The request body exceeds {self.max_body_bytes} bytes."

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it would exceed the limit."""
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            chunk = message.get("body", b"")
            if len(body) + len(chunk) > self.max_body_bytes:
                return None
            body += chunk
            if not message.get("more_body", False):
                return bytes(body)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, error: TillitError) -> None:
        path = scope["path"]
        # The connection is closed after the answer: the rest of a refused body is never read.
        response = ProblemResponse(
            error.to_problem(path), status_code=error.status, headers={"Connection": "close"}
        )
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields the buffered body once, then defers to the server."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        # Later calls wait for the client to disconnect, as the server's own receive would.
        return await receive()

    return replay


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Per-key token bucket (e.g. per partner id), thread-safe, with bounded memory.

    The buckets live in this process. With several broker workers each worker enforces the
    rate on its own, so a partner spread over N workers can reach up to N times the rate;
    configure the per-worker share (overall rate / workers) where a hard total matters.
    """

    def __init__(
        self,
        rate_per_minute: int,
        burst: int | None = None,
        *,
        clock: Clock = system_clock,
        max_keys: int = 10_000,
    ) -> None:
        if rate_per_minute < 1 or (burst is not None and burst < 1) or max_keys < 1:
            raise ValueError("rate_per_minute, burst and max_keys must be at least 1")
        self._rate = rate_per_minute / 60.0
        # By default a partner may spend a whole minute's allowance at once.
        self._burst = float(burst if burst is not None else rate_per_minute)
        # A key idle this long has a full bucket again, so forgetting it changes nothing.
        self._idle_seconds = self._burst / self._rate
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)

    def check(self, key: str) -> None:
        """Spend one request of `key`; raise RateLimited (with Retry-After) if none is left."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.pop(key, None)
            self._evict(now)
            if bucket is None:
                bucket = _Bucket(self._burst, now)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
            bucket.updated = now
            self._buckets[key] = bucket
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / self._rate
        per_minute = round(self._rate * 60)
        raise RateLimited(
            math.ceil(wait), f"More than {per_minute} requests per minute; retry later."
        )

    def _evict(self, now: float) -> None:
        """Drop idle keys (least recently seen first), then any beyond `max_keys`."""
        buckets = self._buckets
        while buckets:
            oldest = next(iter(buckets.values()))
            if now - oldest.updated < self._idle_seconds:
                break
            buckets.popitem(last=False)
        # Only reachable with more live keys than max_keys; keys are authenticated partner
        # ids, so this is a memory guard, and the evicted key merely starts with a full bucket.
        while len(buckets) >= self._max_keys:
            buckets.popitem(last=False)


class ShareLane:
    """How many shares one worker process serves at once, and which it serves on its event loop.

    A share is CPU-bound Python (verifying, hashing, encoding) between short database calls,
    and every database call hands the GIL over. With more shares in flight than the process can
    run, those hand-overs turn into thread switches that cost CPU and win no throughput: on
    SQLite, four shares at once took 5.6 ms of CPU each in process, one at a time 3.2 ms. Other
    routes keep the shared thread pool, so a long audit verification never waits in this lane.

    On SQLite, JSON pages of at most `inline_rows` rows skip the thread: they are decided, read
    and released on the event loop, one at a time, as a synchronous worker serves requests, and
    audited there too, in groups (``AuditGroups``), when the write turn is free at once; when
    another writer holds it (the other workers, the lineage shipper, a pipeline load holding it
    for the whole load), the transaction waits in the lane's thread instead, so the loop never
    waits for a lock. Under the throughput benchmark's load (three alternating pairs of runs) pages
    served so cost 6-11% less CPU and the workers served 12% more of them. The loop does
    nothing else while a page runs (about 1.5 ms for 100 rows, 8 ms for 1,000, in process).
    Streams and larger pages always take the thread.
    """

    def __init__(self, threads: int, inline_rows: int = 0) -> None:
        if threads < 1:
            raise ValueError("a lane needs at least one thread")
        if inline_rows < 0:
            raise ValueError("inline_rows cannot be negative")
        self.threads = threads
        self.inline_rows = inline_rows
        # One limiter per event loop, as anyio keeps its default thread limiter.
        self._limiter: RunVar[anyio.CapacityLimiter] = RunVar(f"tillit_share_lane_{id(self)}")

    def _current(self) -> anyio.CapacityLimiter:
        try:
            return self._limiter.get()
        except LookupError:
            limiter = anyio.CapacityLimiter(self.threads)
            self._limiter.set(limiter)
            return limiter

    def serves_inline(self, rows: int | None) -> bool:
        """Whether a share of at most `rows` rows (None: a stream, unbounded) is prepared on the
        event loop."""
        return rows is not None and rows <= self.inline_rows

    async def run(self, func: Callable[[], T]) -> T:
        """Run `func` in a worker thread once the lane has room."""
        return await anyio.to_thread.run_sync(func, limiter=self._current())
