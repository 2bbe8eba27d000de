"""Helpers for the daemon, web, browser and systemd tests: the real `offthewire run` as a subprocess.

- `configure()` writes a Wire's config with a `[server]` section (listen and base_url on a free port).
- `RunningDaemon` starts `python -m aggregator --config FILE run`, waits for /healthz, sends signals,
  measures how long a stop takes, and never outlives its `with` block (SIGTERM, then SIGKILL).
- `get()` is a plain HTTP/1.1 request with http.client: no redirects, no decompression, no proxy.
- `wait_for()` is the one bounded wait: it polls a predicate until a deadline.
- `HeaderServer` is a loopback HTTP server for what FeedServer cannot do: any response headers
  (Retry-After) and long delays (a fetch that hangs for 30 s), cut short when the server closes.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from xml.etree import ElementTree

from conftest import Wire

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
ATOM = "{http://www.w3.org/2005/Atom}"
# Environment the daemon must not inherit from whoever runs the tests (a CI job under systemd has them).
_STRIPPED_ENV = ("OFFTHEWIRE_CONFIG", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID")

STARTUP_TIMEOUT = 20.0
STOP_LIMIT = 10.0  # the contract: SIGTERM -> exit 0 within 10 s


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `predicate` until it returns something truthy (returned) or `timeout` seconds pass (fails)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def daemon_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED_ENV}
    env.update({"TZ": "UTC", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    env.update(extra)
    return env


def configure(
    wire: Wire,
    port: int,
    *,
    output: dict[str, Any] | None = None,
    poll: dict[str, Any] | None = None,
    topics: list[dict[str, Any]] | None = None,
) -> None:
    """Write the wire's config for a daemon on 127.0.0.1:`port` with fast ticks and no jitter."""
    wire.base_url = f"http://127.0.0.1:{port}/"
    fast = {"tick": 0.5, "jitter": 0, "floor": 0.01, "timeout": 5}
    wire.configure(output={"base_url": wire.base_url, **(output or {})}, poll={**fast, **(poll or {})}, topics=topics)
    # A [server] table after the [[topics]] array is valid TOML: a new header ends the last array element.
    with wire.config.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[server]\nlisten = "127.0.0.1:{port}"\n')


@dataclass
class Response:
    status: int
    headers: Message
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET", timeout: float = 10) -> Response:
    """One request; the body exactly as sent on the wire (no decompression)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path or "/", headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return Response(response.status, response.headers, body)
    finally:
        conn.close()


def atom_title(document: bytes) -> str:
    return ElementTree.fromstring(document).findtext(f"{ATOM}title") or ""


def atom_entry_titles(document: bytes) -> list[str]:
    return [entry.findtext(f"{ATOM}title") or "" for entry in ElementTree.fromstring(document).iter(f"{ATOM}entry")]


class RunningDaemon:
    """`offthewire --config FILE run` in the wire's folder, logging to a file; a context manager."""

    def __init__(self, wire: Wire, port: int, env: dict[str, str] | None = None, name: str = "daemon") -> None:
        self.wire = wire
        self.port = port
        self.env = env if env is not None else daemon_env()
        self.log_path = wire.folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.stop_seconds: float | None = None

    def __enter__(self) -> RunningDaemon:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Response:
        return get(self.url(path), headers, method)

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.wire.command("run"),
                cwd=self.wire.folder,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def health(self) -> Response | None:
        try:
            return self.get("/healthz")
        except OSError:
            return None

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> dict[str, Any]:
        """Wait for /healthz to answer 200; fails at once (with the log) if the process exits."""

        def ready() -> dict[str, Any] | None:
            if not self.alive():
                raise AssertionError(f"the daemon exited with {self.process and self.process.poll()}:\n{self.log()}")
            response = self.health()
            return response.json() if response is not None and response.status == 200 else None

        return wait_for(ready, timeout, "the daemon's /healthz to answer 200")

    def ticks(self) -> int:
        response = self.health()
        assert response is not None and response.status == 200, f"/healthz failed:\n{self.log()}"
        return int(response.json()["scheduler"]["ticks"])

    def wait_ticks(self, count: int, timeout: float = 15) -> None:
        """Wait until `count` more ticks have ended (so the tick running now has finished too)."""
        target = self.ticks() + count
        wait_for(lambda: self.ticks() >= target, timeout, f"{count} more scheduler ticks")

    def send(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, limit: float = STOP_LIMIT) -> int:
        """Send `signum`, wait up to `limit` seconds for the exit; returns the exit status."""
        assert self.process is not None and self.alive(), f"the daemon is not running:\n{self.log()}"
        started = time.monotonic()
        self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the daemon did not exit within {limit:g} s of signal {signum}:\n{self.log()}"
            ) from None
        self.stop_seconds = time.monotonic() - started
        return code

    def close(self) -> None:
        """Never leave the process behind: SIGTERM, then SIGKILL."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_LIMIT + 2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# A server with any headers and long delays.


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    at: float


class _HeaderHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 40
    server: _HeaderHTTPServer

    def do_GET(self) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        with owner.lock:
            owner.seen.append(Seen(path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()))
            answer = owner.answers.get(path, Answer(404, b"not found\n"))
        if answer.delay and owner.stopping.wait(answer.delay):
            self.close_connection = True
            return
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(answer.body)
        except (ConnectionError, TimeoutError):
            pass
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HeaderHTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, owner: HeaderServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _HeaderHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class HeaderServer:
    """A threaded loopback server answering each path with an `Answer`; records every request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: dict[str, Answer] = {}
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        self._httpd = _HeaderHTTPServer(self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> HeaderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()  # ends every delayed answer at once
        self._httpd.shutdown()
        self._thread.join(timeout=10)
        self._httpd.server_close()

    def serve(self, path: str, answer: Answer) -> str:
        with self.lock:
            self.answers[path] = answer
        return f"http://127.0.0.1:{self.port}{path}"

    def requests_for(self, path: str) -> list[Seen]:
        with self.lock:
            return [seen for seen in self.seen if seen.path == path]
