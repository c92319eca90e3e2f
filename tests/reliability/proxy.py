"""A TCP proxy in front of the shared PostgreSQL server that a test can cut and restore, so one
broker loses its database while the server itself (and everyone else's tests) carry on."""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to a server; ``cut()`` resets every connection and refuses new
    ones (as a crashed or fenced database would), ``restore()`` lets them through again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open = threading.Event()
        self._open.set()
        self._closing = threading.Event()
        self._silent = threading.Event()
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._accepter = threading.Thread(target=self._accept, name="pg-proxy", daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                if self._silent.is_set():
                    self._held.append(client)  # accepted, never answered: a hung server
                else:
                    _reset(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                _reset(client)
                continue
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, upstream = pair
        other = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ)
            selector.register(upstream, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in selector.select():
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        other[key.fileobj].sendall(data)  # type: ignore[index]
            except OSError:
                return
            finally:
                with self._lock:
                    self._pairs.discard(pair)
                _reset(client)
                _reset(upstream)

    def cut(self) -> None:
        """Reset every open connection and refuse new ones until restore()."""
        self._open.clear()
        with self._lock:
            pairs = list(self._pairs)
        for client, upstream in pairs:
            _reset(client)
            _reset(upstream)

    def hang(self) -> None:
        """Cut, then accept new connections but never answer them (a hung server)."""
        self._silent.set()
        self.cut()

    def restore(self) -> None:
        """Let connections through again."""
        self._silent.clear()
        self._open.set()
        for sock in self._held:
            _reset(sock)
        self._held.clear()

    def close(self) -> None:
        self._closing.set()
        self.cut()
        self._listener.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN, as a vanished peer looks to the driver."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
