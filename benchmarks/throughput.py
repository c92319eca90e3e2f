"""Requests per second of the broker under uvicorn against a bare app doing the same read.

Both servers run as `uvicorn --workers 2` on loopback with the same settings; a separate
load-generator process (this module's `load` command, an asyncio httpx client) sends
concurrent requests. Every share request carries its own freshly minted token (a token
authorises one request), minted before the clock starts so signing is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from benchmarks.harness import Result
from benchmarks.share import AUDIENCE, PARTNER, REQUEST, bare_app, prepare_broker
from broker.config.keys import mint_token
from broker.config.loader import read_partners
from broker.config.models import Partner

PAGE = 100
WORKERS = 2
CONCURRENCY = 8


def bare_factory() -> FastAPI:
    """The bare app of the share benchmarks over TILLIT_DATABASE_URL, for `uvicorn --factory`."""
    app = bare_app(os.environ["TILLIT_DATABASE_URL"])

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _server(target: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """uvicorn with two workers on a free loopback port; yields its base URL once healthy."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        *target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            command, env=os.environ | env, stdout=output, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, server)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy in {timeout:.0f} s")


def _load(url: str, path: str, headers_file: Path | None, count: int, out: Path) -> dict[str, Any]:
    """Run the load generator in its own process and read its report."""
    command = [sys.executable, "-m", "benchmarks.throughput", "load", url, path, str(count)]
    command += ["--concurrency", str(CONCURRENCY), "--out", str(out)]
    if headers_file is not None:
        command += ["--headers", str(headers_file)]
    subprocess.run(command, check=True, timeout=1800)  # noqa: S603 - our own module
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def _tokens(partner: Partner, key_path: Path, count: int) -> Iterator[str]:
    for number in range(count):
        yield mint_token(partner, key_path, AUDIENCE, f"bench-caseworker-{number}")


def broker_throughput(store: Path, work: Path, quick: bool) -> Result:
    """Alternating rounds of the broker and the bare app, each on a fresh pair of workers."""
    rounds, count = (2, 300) if quick else (3, 1500)
    warmup = 4 * CONCURRENCY
    broker = prepare_broker(store, work, keep_persons=100_000)
    settings = broker.settings
    env = {
        "TILLIT_CONFIG_DIR": str(settings.config_dir),
        "TILLIT_DATABASE_URL": settings.database_url,
        "TILLIT_PSEUDONYM_KEY": "k" * 64,
        "TILLIT_CHECKPOINT_KEY_FILE": str(settings.checkpoint_key_file),
        "TILLIT_AUDIENCE": AUDIENCE,
        "TILLIT_RATE_LIMIT_PER_MINUTE": str(settings.rate_limit_per_minute),
    }
    partner = next(p for p in read_partners(settings.config_dir) if p.id == PARTNER)
    ours_rps: list[float] = []
    bare_rps: list[float] = []
    reports: list[dict[str, Any]] = []
    for number in range(rounds):
        order = ["ours", "bare"] if number % 2 == 0 else ["bare", "ours"]
        for which in order:
            out = work / f"throughput-{which}-{number}.json"
            if which == "ours":
                tokens = work / "tokens.json"
                tokens.write_text(
                    json.dumps(
                        [
                            {"Authorization": f"Bearer {token}"}
                            for token in _tokens(partner, broker.key_path, count + warmup)
                        ]
                    )
                )
                with _server(["broker.main:app"], env, work / "uvicorn-ours.log") as url:
                    report = _load(url, f"/v1/shares?limit={PAGE}", tokens, count, out)
                ours_rps.append(report["requests_per_second"])
            else:
                target = ["--factory", "benchmarks.throughput:bare_factory"]
                with _server(target, env, work / "uvicorn-bare.log") as url:
                    report = _load(url, f"/bare?limit={PAGE}", None, count, out)
                bare_rps.append(report["requests_per_second"])
            reports.append({"server": which, "round": number} | report)
    ours, baseline = statistics.median(ours_rps), statistics.median(bare_rps)
    return Result(
        "broker_throughput",
        f"POST /v1/shares?limit={PAGE} (JSON page, pseudonymised id, generalised birth date, "
        f"a fresh token per request) vs a bare FastAPI endpoint reading the same {PAGE} rows; "
        f"both under uvicorn --workers {WORKERS} on loopback with the same settings, driven by a "
        f"separate asyncio httpx load-generator process at concurrency {CONCURRENCY}; "
        f"{count:,} requests per round after {warmup} warm-up, median of {rounds} alternating "
        "rounds, each on freshly started workers",
        ours,
        baseline,
        "requests/s",
        "ratio ≥ 0.6",
        direction="higher",
        limit=0.6,
        extra={
            "ours_rounds": [round(r, 1) for r in ours_rps],
            "baseline_rounds": [round(r, 1) for r in bare_rps],
            "failed_requests": sum(report["failed"] for report in reports),
            "p50_ms": {
                which: round(
                    statistics.median(r["p50_ms"] for r in reports if r["server"] == which), 2
                )
                for which in ("ours", "bare")
            },
        },
    )


# --- the load generator (a separate process) -----------------------------------------------


async def _drive(
    url: str, path: str, headers: list[dict[str, str]], count: int, concurrency: int
) -> dict[str, Any]:
    warmup = 4 * concurrency
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue = iter(headers) if headers else None
    latencies: list[float] = []
    failed = 0

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def one() -> None:
            nonlocal failed
            extra = next(queue) if queue is not None else {}
            start = time.perf_counter()
            response = await client.post(path, json=REQUEST, headers=extra)
            await response.aread()
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200:
                failed += 1

        async def worker(jobs: Iterator[int]) -> None:
            for _ in jobs:
                await one()

        warm = iter(range(warmup))
        await asyncio.gather(*(worker(warm) for _ in range(concurrency)))
        latencies.clear()
        failed = 0
        jobs = iter(range(count))
        start = time.perf_counter()
        await asyncio.gather(*(worker(jobs) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {
        "requests": count,
        "seconds": round(elapsed, 3),
        "requests_per_second": count / elapsed,
        "failed": failed,
        "p50_ms": round(statistics.median(latencies) * 1e3, 2),
    }


def _load_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput load")
    parser.add_argument("url")
    parser.add_argument("path")
    parser.add_argument("count", type=int)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--headers", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    headers = json.loads(args.headers.read_text()) if args.headers else []
    warmup = 4 * args.concurrency
    if headers and len(headers) < args.count + warmup:
        raise SystemExit("not enough tokens for the requests")
    report = asyncio.run(_drive(args.url, args.path, headers, args.count, args.concurrency))
    args.out.write_text(json.dumps(report))


if __name__ == "__main__":
    if sys.argv[1:2] == ["load"]:
        _load_main(sys.argv[2:])
    else:
        raise SystemExit("usage: python -m benchmarks.throughput load URL PATH COUNT ...")
