"""Slow and greedy clients against a real uvicorn process: slowloris connections dribbling
headers or bodies never block other clients, and the server's memory stays flat."""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from broker.config.keys import mint_token
from broker.config.loader import read_partners
from tests.security.attack import AUDIENCE, ECE_REQUEST, private_store

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SLOW_CONNECTIONS = 120
BODY_READ_TIMEOUT = 5
# Generous absolute bounds: the broker with pandas and SQLAlchemy loaded sits near 150 MiB.
MAX_RSS_KIB = 600 * 1024
MAX_RSS_GROWTH_KIB = 64 * 1024


@dataclass
class Server:
    url: str
    port: int
    pid: int

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS line")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_startup(process: subprocess.Popen[bytes]) -> None:
    """Read the server's log until uvicorn says it is serving (or the process dies)."""
    assert process.stderr is not None
    seen = b""
    while b"Uvicorn running on" not in seen:
        ready, _, _ = select.select([process.stderr], [], [], 120)
        line = process.stderr.readline() if ready else b""
        if not line:
            raise AssertionError(f"the broker did not start: {seen.decode(errors='replace')}")
        seen += line


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, loaded_store: Path, broker_config: dict[str, Path]
) -> Iterator[Server]:
    port = _free_port()
    env = {
        **os.environ,
        "TILLIT_CONFIG_DIR": str(broker_config["config_dir"]),
        "TILLIT_DATABASE_URL": private_store(loaded_store, tmp_path_factory.mktemp("slow")),
        "TILLIT_PSEUDONYM_KEY": "k" * 64,
        "TILLIT_CHECKPOINT_KEY_FILE": str(broker_config["checkpoint"]),
        "TILLIT_AUDIENCE": AUDIENCE,
        "TILLIT_LINEAGE_SHIPPING": "false",
        "TILLIT_BODY_READ_TIMEOUT_SECONDS": str(BODY_READ_TIMEOUT),
    }
    tillit = Path(sys.executable).parent / "tillit"
    process = subprocess.Popen(
        [str(tillit), "broker", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        # Unbuffered, so select() on the pipe sees every line _wait_for_startup has not read.
        bufsize=0,
    )
    try:
        _wait_for_startup(process)
        # Keep draining the access log, so a full pipe never stalls the server.
        threading.Thread(target=process.stderr.read, daemon=True).start()  # type: ignore[union-attr]
        yield Server(f"http://127.0.0.1:{port}", port, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        assert process.stderr is not None
        process.stderr.close()


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _normal_share(server: Server, broker_config: dict[str, Path]) -> httpx.Response:
    partners = {p.id: p for p in read_partners(broker_config["config_dir"])}
    token = mint_token(
        partners["lahti-education"], broker_config["lahti-education"], AUDIENCE, "caseworker"
    )
    return httpx.post(
        f"{server.url}/v1/shares?limit=5",
        json=ECE_REQUEST,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def _open_header_dribblers(server: Server, count: int) -> list[socket.socket]:
    sockets = []
    for number in range(count):
        sock = _connect(server)
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: broker\r\nX-Slow-{number}: ".encode())
        sockets.append(sock)
    return sockets


def _open_body_dribblers(server: Server, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = _connect(server)
        sock.sendall(
            b"POST /v1/shares HTTP/1.1\r\nHost: broker\r\nContent-Type: application/json\r\n"
            b'Content-Length: 60000\r\n\r\n{"dataset": '
        )
        sockets.append(sock)
    return sockets


def _dribble(sock: socket.socket, data: bytes) -> None:
    # A slow body may already have been cut off (408) on a slow machine; that is the point.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends before it closes the connection."""
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def test_slowloris_headers_and_bodies_do_not_block_others_or_grow_memory(
    server: Server, broker_config: dict[str, Path]
) -> None:
    assert _normal_share(server, broker_config).status_code == 200
    before = server.rss_kib()
    slow = _open_header_dribblers(server, SLOW_CONNECTIONS) + _open_body_dribblers(
        server, SLOW_CONNECTIONS
    )
    try:
        for round_number in range(3):
            for sock in slow[:SLOW_CONNECTIONS]:
                _dribble(sock, b"x")  # one more byte of the unfinished header
            for sock in slow[SLOW_CONNECTIONS:]:
                _dribble(sock, b" ")  # one more byte of the unfinished body
            assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
            assert _normal_share(server, broker_config).status_code == 200, round_number
        during = server.rss_kib()
    finally:
        for sock in slow:
            sock.close()
    print(f"RSS before {before} KiB, with {2 * SLOW_CONNECTIONS} slow connections {during} KiB")
    assert during < MAX_RSS_KIB
    assert during - before < MAX_RSS_GROWTH_KIB, (before, during)


def test_a_body_that_never_finishes_is_cut_off_with_408(server: Server) -> None:
    [sock] = _open_body_dribblers(server, 1)
    with sock:
        answer = _read_until_closed(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b"content-type: application/problem+json" in head.lower()
    assert json.loads(body)["code"] == "request_timeout"


def test_an_endless_header_block_is_refused_and_memory_stays_flat(server: Server) -> None:
    before = server.rss_kib()
    sock = _connect(server)
    line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
    sent = 0
    refused = False
    with sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: broker\r\n")
        try:
            while sent < 64 * 1024 * 1024:
                sock.sendall(line * 64)
                sent += len(line) * 64
        except (BrokenPipeError, ConnectionResetError):
            refused = True
    after = server.rss_kib()
    assert refused, f"the server read {sent} bytes of headers"
    assert after - before < MAX_RSS_GROWTH_KIB, (before, after)
    assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
