"""The daemon as users run it: `offthewire run` in a child process, subscribed to every farm feed.

- memory: its first tick is a cold pass of the whole farm (every source is due). The daemon is
  its process and every process it starts (a parse pool's workers and their forkserver): their
  resident memory is summed every quarter second while the tick runs, and the figure is the
  highest sum, or the main process's own high-water mark (VmHWM) if that is higher. The sum
  counts pages shared between the processes once per process, so it errs high; the highest
  proportional sum (Pss, shared pages divided among their sharers) is reported beside it. At the
  highest sum each process is kept too, labelled by its role (the main process, parse workers,
  their forkserver, multiprocessing's resource tracker), and so is what one interpreter takes
  that only imports the libraries a daemon loads: the share of the main process that is code.
- HTTP: then its web server is loaded from another process, with `wrk` when it is installed, else
  with `python -m bench.loadgen`: the merged Atom feed as a 200 (identity and gzip), and as a 304
  for a client that sends the feed's ETag back.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from aggregator.config import load_settings
from aggregator.core import make_aggregator
from bench.common import bench_settings, progress, toml_config

FEED_PATH = "/feeds/off-the-wire.atom"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SAMPLE_EVERY = 0.25
MAX_PROCESSES = 256
# What a running daemon imports: the baseline of its main process's memory.
DAEMON_MODULES = (
    "aggregator.core",
    "aggregator.web",
    "aggregator.daemon",
    "aggregator.fetch",
    "aggregator.publish",
    "aggregator.parse",
    "feedparser",
    "feedgen",
    "lxml.etree",
    "aiohttp",
)
WRK_THREADS = 1
CONNECTIONS = 32
# Environment a daemon must not inherit (a service manager's sockets and watchdog, another config).
STRIPPED_ENV = ("OFFTHEWIRE_CONFIG", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningDaemon:
    """`offthewire --config FILE run` over a fresh install subscribed to `urls`; stopped on exit."""

    def __init__(self, folder: Path, urls: list[str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.listen = f"127.0.0.1:{free_port()}"
        self.config = folder / "offthewire.toml"
        self.config.write_text(toml_config(bench_settings(folder), self.listen), encoding="utf-8")
        self.settings = load_settings(self.config)
        with make_aggregator(self.settings) as aggregator:
            for url in urls:
                aggregator.add_source(url)
        self.sources = len(urls)
        self.log = folder / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    @property
    def base_url(self) -> str:
        return f"http://{self.listen}"

    def __enter__(self) -> RunningDaemon:
        env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        command = [sys.executable, "-m", "aggregator", "--config", str(self.config), "run"]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def status(self, field: str) -> float:
        """A memory figure of the daemon's main process in MB (VmHWM: peak resident, VmRSS: now)."""
        assert self.process is not None
        return _kilobytes(Path(f"/proc/{self.process.pid}/status"), field) / 1024

    def tree_memory(self) -> list[dict[str, Any]]:
        """Resident and proportional memory in MB of the daemon and of each of its descendants,
        each with its pid and role."""
        assert self.process is not None
        main = self.process.pid
        found = []
        for pid, parent in process_tree(main).items():
            rss, pss = _kilobytes_of(Path(f"/proc/{pid}/smaps_rollup"), "Rss", "Pss")
            found.append({"pid": pid, "role": role(pid, parent, main), "rss_mb": rss / 1024, "pss_mb": pss / 1024})
        return found

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self.base_url + "/healthz", timeout=10) as response:
                return dict(json.load(response))
        except urllib.error.HTTPError as exc:
            return dict(json.load(exc))
        except (OSError, ValueError):
            return None

    def polled(self) -> int:
        """Sources with a stored answer, read from the database without disturbing the daemon."""
        uri = f"file:{self.settings.storage.path}?mode=ro"
        try:
            with sqlite3.connect(uri, uri=True, timeout=5) as conn:
                return int(conn.execute("SELECT COUNT(*) FROM sources WHERE last_status IS NOT NULL").fetchone()[0])
        except sqlite3.Error:
            return 0

    def wait_for_first_tick(self, timeout: float) -> dict[str, Any]:
        """Sample memory until every source is polled and the tick (with its publish) has ended."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        rss = pss = 0.0
        processes = 0
        at_peak: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"offthewire run exited with {self.process.returncode}; see {self.log}")
            now = self.tree_memory()
            now_rss = sum(p["rss_mb"] for p in now)
            if now_rss > rss:
                rss, at_peak = now_rss, now
            pss, processes = max(pss, sum(p["pss_mb"] for p in now)), max(processes, len(now))
            if self.polled() >= self.sources:
                report = self.health()
                if report and report["scheduler"]["ticks"] >= 1:
                    main = self.status("VmHWM")
                    return {
                        "feeds": self.sources,
                        "seconds": time.monotonic() - self.started,
                        "peak_rss_mb": max(rss, main),
                        "main_process_hwm_mb": main,
                        "processes_rss_mb": rss,
                        "processes_pss_mb": pss,
                        "processes": processes,
                        "at_peak": at_peak,
                        "sources": report["sources"],
                    }
            time.sleep(SAMPLE_EVERY)
        raise RuntimeError(f"the daemon's first tick did not end within {timeout:g} s; see {self.log}")


def process_tree(pid: int) -> dict[int, int]:
    """`pid` and every process below it, each with its parent, from /proc/PID/task/TID/children
    (bounded walk)."""
    found: dict[int, int] = {}
    queue = [(pid, 0)]
    while queue and len(found) < MAX_PROCESSES:
        current, parent = queue.pop()
        found[current] = parent
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue  # it ended between two readings
        for task in tasks:
            try:
                queue += [(int(child), current) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def role(pid: int, parent: int, main: int) -> str:
    """What a process of the daemon's tree is, from its command line: the pool's workers are forked
    by the forkserver, so they carry its command line but have it as their parent."""
    if pid == main:
        return "main"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "ended"
    if "resource_tracker" in command:
        return "resource tracker"
    if "forkserver" in command:
        return "forkserver" if parent == main else "parse worker"
    return "other"


def _kilobytes(path: Path, field: str) -> int:
    """`field:  N kB` from a /proc file; 0 when the process is gone."""
    return _kilobytes_of(path, field)[0]


def _kilobytes_of(path: Path, *fields: str) -> list[int]:
    """Each `field:  N kB` of a /proc file, read once; 0s when the process is gone."""
    try:
        text = path.read_text(encoding="ascii")
    except OSError:
        return [0] * len(fields)
    return [_field_kb(text, field) or 0 for field in fields]


def _field_kb(text: str, field: str) -> int | None:
    """`field:  N kB` of a /proc file's text; None when it has no such line."""
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def libraries_rss_mb() -> tuple[float, list[str]]:
    """VmRSS of a fresh interpreter that only imports the libraries a daemon loads (those of
    DAEMON_MODULES that are installed), in MB, and the modules it imported."""
    modules = [name for name in DAEMON_MODULES if _installed(name)]
    code = f"import {', '.join(modules)}; print(open('/proc/self/status').read())"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    rss = _field_kb(output, "VmRSS")
    if rss is None:
        raise RuntimeError("no VmRSS in /proc/self/status")
    return rss / 1024, modules


def _installed(module: str) -> bool:
    try:  # finds the module without importing it (its parent package is imported)
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def memory_figures(daemon: RunningDaemon) -> dict[str, Any]:
    progress(f"daemon: offthewire run, first tick polls all {daemon.sources} sources")
    figures = daemon.wait_for_first_tick(timeout=300 + 1.5 * daemon.sources)
    figures["libraries_rss_mb"], figures["libraries"] = libraries_rss_mb()
    return figures


def http_figures(daemon: RunningDaemon, seconds: float) -> dict[str, Any]:
    """Requests per second for the merged feed: 200 identity, 200 gzip, and 304."""
    url = daemon.base_url + FEED_PATH
    with urllib.request.urlopen(url, timeout=10) as response:
        etag, size = response.headers["ETag"], len(response.read())
    generator = "wrk" if shutil.which("wrk") else "bench.loadgen"
    progress(f"http: {generator}, {CONNECTIONS} connections, {seconds:g} s each, {url} ({size:,} bytes)")
    cases = {"200": [], "200_gzip": ["Accept-Encoding: gzip"], "304": [f"If-None-Match: {etag}"]}
    figures = {name: load(url, headers, seconds) for name, headers in cases.items()}
    return {"load_generator": generator, "connections": CONNECTIONS, "seconds": seconds, "feed_bytes": size, **figures}


def load(url: str, headers: list[str], seconds: float) -> dict[str, Any]:
    if shutil.which("wrk"):
        return _wrk(url, headers, seconds)
    command = [sys.executable, "-m", "bench.loadgen", url, "--seconds", str(seconds), "--connections", str(CONNECTIONS)]
    for header in headers:
        command += ["--header", header]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    return dict(json.loads(output))


def _wrk(url: str, headers: list[str], seconds: float) -> dict[str, Any]:
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests per second, request count, failures and latency percentiles from wrk's report."""

    def number(pattern: str) -> float | None:
        match = re.search(pattern, output)
        return float(match.group(1)) if match else None

    def millis(percent: str) -> float | None:
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if not match:
            return None
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    return {
        "requests": number(r"(\d+) requests in"),
        "requests_per_s": number(r"Requests/sec:\s+([\d.]+)"),
        "non_2xx_3xx": number(r"Non-2xx or 3xx responses: (\d+)") or 0,
        "socket_errors": "Socket errors" in output,
        "p50_ms": millis("50"),
        "p99_ms": millis("99"),
    }
