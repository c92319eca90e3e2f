"""Run in a fresh process: stream a whole share and report the peak RSS growth as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

from benchmarks.share import REQUEST, BrokerUnderTest
from broker.config.settings import BrokerSettings
from broker.main import create_app


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS now, VmHWM its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    """Start the peak-RSS mark (VmHWM) afresh at the current RSS; False if not allowed.

    getrusage's ru_maxrss cannot be used: Linux carries it over exec from the parent, so a
    fresh process spawned by a benchmark runner holding a million loaded rows would report the
    runner's peak. VmHWM belongs to this process's own address space.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def _stream_rows(app: Any, headers: dict[str, str]) -> int:
    """POST the share straight into the ASGI app and count rows as the body leaves, keeping
    nothing: a real server does not hold the body either (TestClient would collect it all)."""
    payload = json.dumps(REQUEST).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/shares",
        "raw_path": b"/v1/shares",
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
    }
    delivered = asyncio.Event()
    rows = 0

    async def receive() -> dict[str, Any]:
        if not delivered.is_set():
            delivered.set()
            return {"type": "http.request", "body": payload, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal rows
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"the share answered {message['status']}")
        if message["type"] == "http.response.body":
            rows += message.get("body", b"").count(b"\n")

    await app(scope, receive, send)
    return rows


def main(settings_file: str) -> None:
    spec = json.loads(Path(settings_file).read_text())
    values = spec["settings"] | {"pseudonym_key": SecretStr(spec["settings"]["pseudonym_key"])}
    broker = BrokerUnderTest(BrokerSettings(**values), Path(spec["key_path"]))
    app = create_app(broker.settings)
    tokens = broker.tokens(app, 2)
    with TestClient(app) as client:
        # A small page first, so imports and caches are in place before the baseline reading.
        client.post("/v1/shares?limit=10", json=REQUEST, headers=next(tokens)).raise_for_status()
    headers = {"Accept": "application/x-ndjson", **next(tokens)}
    reset = _reset_peak()
    before = _status_mb("VmRSS")
    rows = asyncio.run(_stream_rows(app, headers))
    peak = _status_mb("VmHWM")
    after = _status_mb("VmRSS")
    print(
        json.dumps(
            {
                "rows": rows,
                "growth_mb": round(peak - before, 1),
                "rss_before_mb": round(before, 1),
                "peak_mb": round(peak, 1),
                "rss_after_mb": round(after, 1),
                "peak_reset": reset,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
