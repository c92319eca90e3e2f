"""Run in a fresh process: stream a whole share and report the peak RSS growth as JSON."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

from benchmarks.share import REQUEST, BrokerUnderTest
from broker.config.settings import BrokerSettings
from broker.main import create_app


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


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
    before = _rss_mb()
    rows = asyncio.run(_stream_rows(app, {"Accept": "application/x-ndjson", **next(tokens)}))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "growth_mb": round(peak - before, 1), "peak_mb": peak}))


if __name__ == "__main__":
    main(sys.argv[1])
