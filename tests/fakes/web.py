"""A loopback web server for link-card pages: routes in, the requests it saw out.

`Reply` says what a path answers (status, body, type, a delay before the headers, or a
stream of bytes with no Content-Length, for pages too big to read).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # before the headers
    stream: int = 0  # bytes sent in 64 KiB pieces with no Content-Length, instead of body


@dataclass
class Site:
    """A loopback HTTP server: routes in, the requests it saw out."""

    host: str
    routes: dict[str, Reply] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)
    streamed: dict[str, int] = field(default_factory=dict)  # path -> bytes sent, when done
    port: int = 0

    def url(self, path: str, name: str | None = None) -> str:
        return f"http://{name or self.host}:{self.port}{path}"


def handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.seen.append((self.path, self.headers.get("Host", "")))
            reply = site.routes.get(self.path, Reply(404, b"not here"))
            time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.type)
                for name, value in reply.headers:
                    self.send_header(name, value)
                if not reply.stream:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if reply.stream:
                    self._stream(reply.stream)
                else:
                    self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _stream(self, total: int) -> None:
            piece, sent = b"<p>" + b"x" * (65_536 - 3), 0
            try:
                while sent < total:
                    self.wfile.write(piece)
                    sent += len(piece)
            finally:
                site.streamed[self.path] = sent

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serving(host: str = "127.0.0.1") -> Iterator[Site]:
    """A Site listening on `host` (a free port) until the block ends."""
    site = Site(host)
    server = ThreadingHTTPServer((host, 0), handler(site))
    site.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
