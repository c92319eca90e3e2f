"""How uvicorn serves the broker: options that bound what slow or greedy clients can hold."""

from __future__ import annotations

from typing import Any, Final

# The request head (request line and headers) may be at most this large; a longer one is
# refused and its connection closed. Access tokens are at most 16 KiB, so 32 KiB leaves room.
MAX_REQUEST_HEAD_BYTES: Final = 32 * 1024
# h11 enforces the cap on the request head; httptools reads a header block without limit.
SERVER_OPTIONS: Final[dict[str, Any]] = {
    "http": "h11",
    "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
    # Idle keep-alive connections are closed after this many seconds.
    "timeout_keep_alive": 5,
    "timeout_graceful_shutdown": 30,
}


def serve(host: str, port: int, *, workers: int = 1, log_level: str = "info") -> None:
    """Serve ``broker.main:app`` with uvicorn and the broker's connection limits."""
    import uvicorn

    uvicorn.run(
        "broker.main:app",
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        **SERVER_OPTIONS,
    )
