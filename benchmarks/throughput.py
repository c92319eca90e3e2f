"""Requests per second of the broker under uvicorn against a bare app doing the same read.

Each side runs as two uvicorn worker processes on loopback with the same settings; a
separate load-generator process (this module's `load` command, asyncio httpx clients) sends
concurrent requests, its clients' connections spread over the two workers in turn, as a load
balancer in front of them would. (Two workers behind one shared socket, `--workers 2`, take
connections by chance: an event loop accepts every connection waiting when it wakes, and
rounds where one worker got all eight ran at half speed.) The load starts once both workers
have completed their startup, and each worker's CPU seconds are reported.

Every share request carries its own freshly minted token (a token authorises one request),
minted before the clock starts so signing is not counted.
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
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
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
_READY = b"Application startup complete."


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


@dataclass
class _Server:
    urls: list[str]
    workers: list[int]


@contextmanager
def _server(target: list[str], env: dict[str, str], log: Path) -> Iterator[_Server]:
    """WORKERS uvicorn worker processes, each on its own free loopback port, once each has
    completed its startup."""
    command = [sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1"]
    # Info, for the "startup complete" line; access logs stay off.
    options = ["--log-level", "info", "--no-access-log"]
    with ExitStack() as stack:
        processes: list[tuple[subprocess.Popen[bytes], str, Path]] = []
        for number in range(WORKERS):
            port = _free_port()
            worker_log = log.with_name(f"{log.stem}-{number}{log.suffix}")
            output = stack.enter_context(worker_log.open("wb"))
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                [*command, "--port", str(port), *options],
                env=os.environ | env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            stack.callback(_stop, process)
            processes.append((process, f"http://127.0.0.1:{port}", worker_log))
        for process, url, worker_log in processes:
            _wait_ready(url, process, worker_log)
        yield _Server(
            [url for _, url, _ in processes], [process.pid for process, _, _ in processes]
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120
) -> None:
    """Return once the worker has completed its startup and answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"a worker exited with {process.returncode} before it was ready")
        if _READY in log.read_bytes():
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready in {timeout:.0f} s")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(
    urls: list[str], path: str, headers_file: Path | None, count: int, out: Path
) -> dict[str, Any]:
    """Run the load generator in its own process and read its report."""
    command = [sys.executable, "-m", "benchmarks.throughput", "load", ",".join(urls), path]
    command.append(str(count))
    command += ["--concurrency", str(CONCURRENCY), "--out", str(out)]
    if headers_file is not None:
        command += ["--headers", str(headers_file)]
    subprocess.run(command, check=True, timeout=1800)  # noqa: S603 - our own module
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def _measured(
    server: _Server, path: str, headers_file: Path | None, count: int, out: Path
) -> dict[str, Any]:
    """A load run's report, with the CPU seconds each worker spent during it."""
    before = [_cpu_seconds(pid) for pid in server.workers]
    report = _load(server.urls, path, headers_file, count, out)
    after = [_cpu_seconds(pid) for pid in server.workers]
    spent = [round(end - start, 2) for start, end in zip(before, after, strict=True)]
    return report | {"worker_cpu_seconds": spent}


def _tokens(partner: Partner, key_path: Path, count: int) -> Iterator[str]:
    for number in range(count):
        yield mint_token(partner, key_path, AUDIENCE, f"bench-caseworker-{number}")


def broker_throughput(
    store: Path, work: Path, quick: bool, *, rounds: int | None = None, count: int | None = None
) -> Result:
    """Alternating rounds of the broker and the bare app, each on a fresh pair of workers
    (`rounds` of `count` requests a side, smaller when `quick`)."""
    # The bare app's rounds swing by a third between minutes on a shared machine (400 to 590
    # requests/s within one run), so a full run takes the median of five alternating rounds.
    default_rounds, default_count = (2, 300) if quick else (5, 1500)
    rounds, count = rounds or default_rounds, count or default_count
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
                with _server(["broker.main:app"], env, work / "uvicorn-ours.log") as server:
                    report = _measured(server, f"/v1/shares?limit={PAGE}", tokens, count, out)
                ours_rps.append(report["requests_per_second"])
            else:
                target = ["--factory", "benchmarks.throughput:bare_factory"]
                with _server(target, env, work / "uvicorn-bare.log") as server:
                    report = _measured(server, f"/bare?limit={PAGE}", None, count, out)
                bare_rps.append(report["requests_per_second"])
            reports.append({"server": which, "round": number} | report)
    ours, baseline = statistics.median(ours_rps), statistics.median(bare_rps)
    return Result(
        "broker_throughput",
        f"POST /v1/shares?limit={PAGE} (JSON page, pseudonymised id, generalised birth date, "
        f"a fresh token per request) vs a bare FastAPI endpoint reading the same {PAGE} rows; "
        f"both as {WORKERS} uvicorn worker processes on loopback with the same settings, driven "
        f"by a separate asyncio httpx load-generator process at concurrency {CONCURRENCY}, its "
        "connections spread over the workers in turn, once both have started; "
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
            "worker_cpu_seconds": {
                which: [r["worker_cpu_seconds"] for r in reports if r["server"] == which]
                for which in ("ours", "bare")
            },
            "server_cpu_ms_per_request": {
                which: round(
                    statistics.median(
                        sum(r["worker_cpu_seconds"]) / r["requests"] * 1e3
                        for r in reports
                        if r["server"] == which
                    ),
                    2,
                )
                for which in ("ours", "bare")
            },
            "p50_ms": _median_per_side(reports, "p50_ms", 2),
            # The load generator's own CPU a request, and how busy the machine was: the load
            # shares the two cores with the workers.
            "client_cpu_ms_per_request": _median_per_side(reports, "client_cpu_ms_per_request", 3),
            "machine_busy": _median_per_side(reports, "machine_busy", 3),
            "statuses": {
                which: dict(
                    sum(
                        (Counter(r["statuses"]) for r in reports if r["server"] == which),
                        Counter(),
                    )
                )
                for which in ("ours", "bare")
            },
        },
    )


def _median_per_side(reports: list[dict[str, Any]], key: str, digits: int) -> dict[str, Any]:
    """The median of one figure of the load reports, for each side (None where unmeasured)."""
    medians: dict[str, Any] = {}
    for which in ("ours", "bare"):
        values = [r[key] for r in reports if r["server"] == which and r.get(key) is not None]
        medians[which] = round(statistics.median(values), digits) if values else None
    return medians


# --- the load generator (a separate process) -----------------------------------------------


async def _drive(
    urls: list[str], path: str, headers: list[dict[str, str]], count: int, concurrency: int
) -> dict[str, Any]:
    warmup = 4 * concurrency
    queue = iter(headers) if headers else None
    latencies: list[float] = []
    failed = 0
    statuses: Counter[int] = Counter()
    # One kept-alive connection per client, the clients taking the workers in turn.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(base_url=urls[number % len(urls)], limits=limits, timeout=120)
        for number in range(concurrency)
    ]

    async def worker(client: httpx.AsyncClient, jobs: Iterator[int]) -> None:
        nonlocal failed
        for _ in jobs:
            extra = next(queue) if queue is not None else {}
            start = time.perf_counter()
            response = await client.post(path, json=REQUEST, headers=extra)
            await response.aread()
            latencies.append(time.perf_counter() - start)
            statuses[response.status_code] += 1
            if response.status_code != 200:
                failed += 1

    try:
        warm = iter(range(warmup))
        await asyncio.gather(*(worker(client, warm) for client in clients))
        latencies.clear()
        statuses.clear()
        failed = 0
        jobs = iter(range(count))
        start, cpu, machine = time.perf_counter(), time.process_time(), _machine_ticks()
        await asyncio.gather(*(worker(client, jobs) for client in clients))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        total, idle = (end - begin for begin, end in zip(machine, _machine_ticks(), strict=True))
    finally:
        for client in clients:
            await client.aclose()
    return {
        "requests": count,
        "seconds": round(elapsed, 3),
        "requests_per_second": count / elapsed,
        "failed": failed,
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "client_cpu_ms_per_request": round(cpu / count * 1e3, 3),
        # How busy the machine's CPUs were while the load ran (1.0: every core, all the time).
        "machine_busy": round(1 - idle / total, 3) if total else None,
        "p50_ms": round(statistics.median(latencies) * 1e3, 2),
    }


def _machine_ticks() -> tuple[int, int]:
    """All CPU ticks of the machine so far and the idle ones among them (Linux /proc/stat)."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(tick) for tick in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    return sum(ticks), ticks[3] + ticks[4]


def _load_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput load")
    parser.add_argument("urls", help="the workers' base URLs, comma-separated")
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
    report = asyncio.run(
        _drive(args.urls.split(","), args.path, headers, args.count, args.concurrency)
    )
    args.out.write_text(json.dumps(report))


if __name__ == "__main__":
    if sys.argv[1:2] == ["load"]:
        _load_main(sys.argv[2:])
    else:
        raise SystemExit("usage: python -m benchmarks.throughput load URL PATH COUNT ...")
