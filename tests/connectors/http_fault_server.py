"""A real HTTP server on 127.0.0.1 that answers like a recorded API and injects faults.

Connector tests talk to it over real sockets, so what they prove holds for httpx, the
guard and the retry loop as they run in production. A test gives a handler (request →
``Reply``) and may queue faults that replace the next answers: a stall longer than the
client's timeout, a 500, a 429 with ``Retry-After``, a body cut short of its
``Content-Length``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from civicstat.connectors.base import ConnectorContext, Payload


@dataclass(frozen=True)
class Reply:
    """One answer. ``stall`` waits before answering; ``cut_after`` sends that many bytes of
    the body (with the whole body's Content-Length) and closes the connection."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0
    cut_after: int | None = None


@dataclass(frozen=True)
class Seen:
    """A request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names


Handler = Callable[[Seen], Reply]


def json_reply(document: Any, status: int = 200, **headers: str) -> Reply:
    body = json.dumps(document).encode()
    return Reply(status, body, {"Content-Type": "application/json", **headers})


class FaultServer:
    """The server: ``url(path)`` to reach it, ``requests`` to see what arrived,
    ``inject(...)`` to make the next requests fail."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Seen] = []
        self.faults: deque[Reply] = deque()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._request_handler())
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def inject(self, *replies: Reply) -> None:
        """The next ``len(replies)`` requests get these answers instead of the handler's."""
        with self._lock:
            self.faults.extend(replies)

    def _answer(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            if self.faults:
                return self.faults.popleft()
        return self.handler(seen)

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self._serve()

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                seen = Seen(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                )
                reply = server._answer(seen)
                if reply.stall and server.stopping.wait(reply.stall):
                    return
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    if reply.cut_after is not None:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    body = reply.body
                    if reply.cut_after is not None:
                        body = body[: reply.cut_after]
                        self.close_connection = True
                    self.wfile.write(body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests assert on ``requests`` instead."""

        return RequestHandler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)


@contextmanager
def serving(handler: Handler) -> Iterator[FaultServer]:
    server = FaultServer(handler)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def local_context(root: Path, **changes: Any) -> ConnectorContext:
    """A connector context that may reach this machine's test servers (127.0.0.1) only."""
    values: dict[str, Any] = {"allow": ("127.0.0.1",), "env": {}} | changes
    return ConnectorContext(root, **values)


def payload_bytes(payload: Payload) -> bytes:
    with payload.open() as stream:
        return stream.read()
