"""A fork server of broker processes: import and build the app once, fork a server per command.

Run as ``python -m tests.reliability.forkserver`` with the broker's ``TILLIT_*`` settings in the
environment. It binds one listening socket, prints ``port <n>``, then reads commands from stdin:

- ``spawn``: reap dead children, fork a child that serves the broker on the shared socket with
  uvicorn (lifespan included, so the child also ships lineage), and print ``pid <pid>``;
- ``quit``: stop any live child gracefully (SIGTERM), wait for it and exit.

Connections made while no child is alive wait in the socket's backlog for the next child, as
they would behind a load balancer while a crashed broker restarts. The test kills children with
SIGKILL itself; a child is the real broker process, paying only the fork for its start.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

import uvicorn
from fastapi import FastAPI

from broker.config.settings import BrokerSettings
from broker.main import create_app


def _serve(sock: socket.socket, app: FastAPI) -> None:
    """The child: serve the parent's app; its lineage shipper starts in the child's lifespan."""
    try:
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        os._exit(0)


def _reap(children: set[int]) -> None:
    for pid in list(children):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            children.discard(pid)


def main() -> None:
    # The app is built once, here: configuration, keys and schema are checked before any child.
    # Its pool is emptied, so each child opens its own connections and shares none.
    app = create_app(BrokerSettings())
    app.state.runtime.engine.dispose()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    sock.set_inheritable(True)
    print(f"port {sock.getsockname()[1]}", flush=True)
    children: set[int] = set()
    for line in sys.stdin:
        command = line.strip()
        _reap(children)
        if command == "spawn":
            pid = os.fork()
            if pid == 0:
                _serve(sock, app)
            children.add(pid)
            print(f"pid {pid}", flush=True)
        elif command == "quit":
            break
    for pid in children:
        os.kill(pid, signal.SIGTERM)
    for pid in children:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
