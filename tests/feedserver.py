"""A real HTTP server on 127.0.0.1 for the integration tests: canned responses per path, and a log.

Each path answers with a configurable `Route`: body, content type, status, validators (ETag,
Last-Modified, answered with 304 when the client echoes them back exactly), gzip when the client
accepts it, a bounded delay, or a redirect. Every request is logged with its headers so a test can
assert what the client sent. Routes can be changed between polls.
"""

from __future__ import annotations

import gzip
import socket
import threading
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# No test needs a slower server than this; a delay is also cut short when the server stops.
MAX_DELAY_SECONDS = 10.0
# A client that connects and never sends a request cannot hold a handler thread longer than this.
SOCKET_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Route:
    """How one path answers."""

    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    delay: float = 0.0
    location: str | None = None


@dataclass(frozen=True)
class Exchange:
    """One request as the server saw it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    status: int
    gzipped: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class _State:
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[Exchange] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_SECONDS
    server: _Server

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is the test's record; stderr noise helps nobody

    def _answer(self, send_body: bool) -> None:
        state = self.server.state
        path = self.path.split("?", 1)[0]
        # Header names lower-cased, values exactly as sent (http.server decodes them as Latin-1).
        headers = {name.lower(): value for name, value in self.headers.items()}
        with state.lock:
            route = state.routes.get(path)
        if route is None:
            self._record(path, headers, 404)
            self._send(404, {"Content-Type": "text/plain"}, b"not found\n", send_body)
            return
        if route.delay > 0 and state.stopping.wait(min(route.delay, MAX_DELAY_SECONDS)):
            self.close_connection = True
            return
        response_headers = {"Content-Type": route.content_type}
        if route.etag is not None:
            response_headers["ETag"] = route.etag
        if route.last_modified is not None:
            response_headers["Last-Modified"] = route.last_modified
        if route.location is not None:
            response_headers["Location"] = route.location
        if route.status == 200 and self._not_modified(route, headers):
            self._record(path, headers, 304)
            self._send(304, {k: v for k, v in response_headers.items() if k != "Content-Type"}, b"", False)
            return
        body = route.body
        zipped = route.gzip and "gzip" in headers.get("accept-encoding", "").lower()
        if zipped:
            body = gzip.compress(body, mtime=0)
            response_headers["Content-Encoding"] = "gzip"
        # Recorded before answering, so the log is in the order the client saw the answers.
        self._record(path, headers, route.status, zipped)
        self._send(route.status, response_headers, body, send_body)

    @staticmethod
    def _not_modified(route: Route, headers: dict[str, str]) -> bool:
        # RFC 9110: If-None-Match, when sent, decides; If-Modified-Since only counts without it.
        # Both are compared byte for byte with what this server handed out.
        if "if-none-match" in headers:
            return route.etag is not None and headers["if-none-match"] == route.etag
        if "if-modified-since" in headers:
            return route.last_modified is not None and headers["if-modified-since"] == route.last_modified
        return False

    def _send(self, status: int, headers: dict[str, str], body: bytes, send_body: bool) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if send_body and status != 304:
                self.wfile.write(body)
        except (ConnectionError, TimeoutError):
            pass  # the client gave up (its deadline passed); nothing to tell it
        self.close_connection = True

    def _record(self, path: str, headers: dict[str, str], status: int, gzipped: bool = False) -> None:
        state = self.server.state
        with state.lock:
            state.log.append(Exchange(self.command, path, headers, status, gzipped))


class _Server(ThreadingHTTPServer):
    # Handler threads are joined by server_close(), so none outlives the test.
    daemon_threads = False
    block_on_close = True

    def __init__(self, state: _State) -> None:
        self.state = state
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-answer is expected in timeout tests


class FeedServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) with per-path canned responses."""

    def __init__(self) -> None:
        self._state = _State()
        self._httpd = _Server(self._state)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="feedserver", daemon=True
        )

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._state.stopping.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=10)
        self._httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes = b"", **options: Any) -> str:
        """Answer `path` with `body` (see Route for the options); returns the path's URL."""
        with self._state.lock:
            self._state.routes[path] = Route(body=body, **options)
        return self.url(path)

    def update(self, path: str, **changes: Any) -> None:
        """Change some of the path's answer (its body, validators, status...) for the next request."""
        with self._state.lock:
            self._state.routes[path] = replace(self._state.routes[path], **changes)

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        """Answer `path` with a redirect to `to` (a path on this server or a full URL)."""
        location = to if "://" in to else self.url(to)
        return self.serve(path, b"", status=status, location=location, content_type="text/plain")

    @property
    def log(self) -> list[Exchange]:
        with self._state.lock:
            return list(self._state.log)

    def requests_for(self, path: str) -> list[Exchange]:
        return [exchange for exchange in self.log if exchange.path == path]


def closed_port() -> int:
    """A loopback port nobody listens on (it was free a moment ago): connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
