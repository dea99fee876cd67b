"""Local stand-ins for the services Ovoz talks to over HTTP, served for real on loopback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

Fake = TypeVar("Fake")


class FakeServer(ThreadingHTTPServer):
    """Handlers find the test's fake (its recorded requests and its orders) as `server.fake`."""

    daemon_threads = True
    fake: Any


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], make_fake: Callable[[str], Fake]
            ) -> Iterator[Fake]:
    """Serve `handler` on a free loopback port; `make_fake` gets the server's base URL."""
    server = FakeServer(("127.0.0.1", 0), handler)
    server.fake = make_fake(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server.fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
