"""`offthewire run`: the scheduler and the HTTP service in one process, until SIGTERM or SIGINT.

APScheduler runs one tick job (one at a time, missed ticks coalesced) in a worker thread; each
tick asks the database which sources are due, so sources added or removed with the CLI are seen
within a tick. The web service runs on the main thread's event loop with its own database
connection. SIGHUP reloads the config. systemd is told READY, STATUS, STOPPING and, when it asks
for one, WATCHDOG (only while ticks keep happening).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from aggregator.config import Settings, listen_address, load_settings, with_database_url
from aggregator.core import Aggregator, make_aggregator
from aggregator.exceptions import AggregatorError, ConfigError
from aggregator.metrics import Metrics
from aggregator.types import PollSummary
from aggregator.web import HealthReport, make_app

log = logging.getLogger(__name__)
# APScheduler logs two lines per tick at INFO: too chatty for journald at a 30-second tick.
logging.getLogger("apscheduler").setLevel(logging.WARNING)

SHUTDOWN_GRACE = 5.0  # seconds a running tick may take to finish before its fetches are cancelled
SHUTDOWN_LIMIT = 10.0  # seconds from SIGTERM to exit, at most
PRUNE_DELAY = timedelta(hours=1)


def sd_notify(message: str) -> bool:
    """Tell systemd (Type=notify) about our state; False when not run by systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", address, exc)
        return False
    return True


class Daemon:
    """One running offthewire service."""

    def __init__(
        self,
        settings: Settings,
        config_path: Path | None,
        on_ready: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.config_path = config_path
        self.on_ready = on_ready
        self.metrics = Metrics()
        self.writer: Aggregator = make_aggregator(settings)
        self.reader: Aggregator = make_aggregator(settings)
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._lock = threading.Lock()
        self._tick_started: float | None = None
        self._last_activity = time.monotonic()
        self._last_tick: datetime | None = None
        self._ticks = 0
        self._last_error: str | None = None
        self._stop: asyncio.Event | None = None

    def run(self) -> int:
        """Serve and poll until SIGTERM/SIGINT; returns the exit status."""
        return asyncio.run(self._main())

    async def _main(self) -> int:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await asyncio.to_thread(self.writer.publish)  # in a thread: it may notify a WebSub hub
        except AggregatorError as exc:
            self._last_error = str(exc)
            log.error("%s", exc)
        runner = web.AppRunner(make_app(self.reader, self.health, self.metrics), access_log=None)
        await runner.setup()
        host, port = listen_address(self.settings)
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            self._close()
            raise ConfigError(f"Cannot listen on {host}:{port} ([server] listen): {exc.strerror or exc}.") from exc
        url = f"http://{host}:{runner.addresses[0][1]}/"
        self.scheduler.add_job(
            self._tick, "interval", seconds=self.settings.poll.tick, id="tick", next_run_time=datetime.now(UTC)
        )
        # Retention once a day, an hour after start so a restart loop never prunes in a hurry.
        self.scheduler.add_job(
            self._prune, "interval", days=1, id="prune", next_run_time=datetime.now(UTC) + PRUNE_DELAY
        )
        self.scheduler.start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        log.info("serving %s; polling every %g s", url, self.settings.poll.tick)
        sd_notify(f"READY=1\nSTATUS=serving {url}")
        if self.on_ready:
            self.on_ready(url)
        watchdog = asyncio.create_task(self._watchdog())
        await self._stop.wait()

        started = time.monotonic()
        log.info("stopping")
        sd_notify("STOPPING=1")
        watchdog.cancel()
        self.scheduler.shutdown(wait=False)
        await self._finish_tick()
        await runner.cleanup()
        if not self.tick_running:
            self._close()
        log.info("stopped in %.1f s", time.monotonic() - started)
        return 0

    @property
    def tick_running(self) -> bool:
        with self._lock:
            return self._tick_started is not None

    def _tick(self) -> None:
        with self._lock:
            self._tick_started = self._last_activity = time.monotonic()
        try:
            summary = self.writer.poll(publish=False)
        except AggregatorError as exc:
            self._last_error = str(exc)
            log.error("%s", exc)
            summary = None
        finally:
            with self._lock:
                self._tick_started = None
                self._last_activity = time.monotonic()
                self._last_tick = datetime.now(UTC)
                self._ticks += 1
        if summary is not None:
            self._after_tick(summary)

    def _prune(self) -> None:
        # Runs in the scheduler's single worker, so never beside a tick.
        try:
            pruned = self.writer.prune()
        except AggregatorError as exc:
            self._last_error = str(exc)
            log.error("%s", exc)
            return
        log.info("retention: %d items pruned", pruned)

    def _after_tick(self, summary: PollSummary) -> None:
        self.metrics.observe_poll(summary, time.time())
        if summary.network_down:
            self._last_error = "none of the sources could be reached: the network looks down"
        elif summary.outcomes or summary.publish_seconds is not None:
            # Sources answered, or the feeds were written: whatever failed before is over. (A tick
            # that had nothing to poll or publish says nothing either way.)
            self._last_error = None
        failed = len(summary.failed)
        if summary.outcomes:
            log.info(
                "tick: %d polled, %d new, %d updated, %d not modified, %d failed",
                len(summary.outcomes),
                summary.new,
                summary.updated,
                summary.not_modified,
                failed,
            )
        sd_notify(f"STATUS=last tick {self._last_tick:%H:%M:%S} UTC: {len(summary.outcomes)} polled, {failed} failed")

    def health(self) -> HealthReport:
        """Alive while the scheduler runs and ticks keep starting or ending on time."""
        stale_after = max(3 * self.settings.poll.tick, self.settings.poll.tick + 2 * self.settings.poll.timeout + 60)
        with self._lock:
            quiet_for = time.monotonic() - self._last_activity
            alive = self.scheduler.running and quiet_for < stale_after
            return HealthReport(alive, self._last_tick, self._ticks, self._last_error)

    def reload(self) -> None:
        """SIGHUP: read the config again; a bad one is logged and the old one kept."""
        try:
            new = with_database_url(load_settings(self.config_path), os.environ)
        except ConfigError as exc:
            log.error("config not reloaded, the old one stays in use: %s", exc)
            return
        old = self.settings
        for name, label in (("server", "[server] listen"), ("storage", "[storage]")):
            if getattr(new, name) != getattr(old, name):
                log.warning("%s changed: restart offthewire to use it", label)
        new = dataclasses.replace(new, server=old.server, storage=old.storage)
        self.settings = new
        self.writer.reconfigure(new)
        self.reader.reconfigure(new)
        if new.poll.tick != old.poll.tick:
            self.scheduler.reschedule_job("tick", trigger="interval", seconds=new.poll.tick)
        self.scheduler.add_job(self.writer.publish, id="republish", replace_existing=True)
        log.info("config reloaded from %s", self.config_path or "built-in defaults")

    async def _finish_tick(self) -> None:
        """Let a running tick end; after SHUTDOWN_GRACE cancel its fetches; give up at SHUTDOWN_LIMIT."""
        deadline = time.monotonic() + SHUTDOWN_LIMIT - 1
        cancelled = False
        while time.monotonic() < deadline:
            if not self.tick_running:
                return
            if not cancelled and time.monotonic() > deadline - (SHUTDOWN_LIMIT - 1 - SHUTDOWN_GRACE):
                log.warning("cancelling the fetches of the running tick")
                self.writer.cancel_poll()
                cancelled = True
            await asyncio.sleep(0.05)
        log.error("the running tick did not stop in time; exiting anyway")

    async def _watchdog(self) -> None:
        usec = os.environ.get("WATCHDOG_USEC", "")
        if not usec.isdigit():
            return
        interval = int(usec) / 2_000_000
        while True:
            if self.health().scheduler_alive:
                sd_notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    def _close(self) -> None:
        self.writer.close()
        self.reader.close()
