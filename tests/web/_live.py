"""A real uvicorn server on a free loopback port, in a thread, for tests over TCP."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

__all__ = ["raw_request", "serving"]


@contextmanager
def serving(app: FastAPI) -> Iterator[tuple[str, int]]:
    """``(host, port)`` of ``app`` served by uvicorn until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(10)


def raw_request(address: tuple[str, int], data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` as is (however malformed) and read the answer until the server closes."""
    with socket.create_connection(address, timeout=timeout) as sock:
        # refused before the whole body was read: the answer is still there
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)
