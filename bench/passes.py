"""The polling passes: offthewire and three baselines, cold, warm and round, on the same farm.

- offthewire: `make_aggregator(settings).poll(every_source=True, publish=False)` in this process,
  as a daemon tick runs it (fetch, parse, dedupe, topics, store, schedule, and publish when
  something changed); a fresh database for every cold pass. Each pass also times how long
  storing kept the main thread busy after the fetches (`Pipeline._store_bodies`: reading what
  the parser processes made of each new body, matching stories, writing; `Pipeline._absorb` of
  each 304 or failure; and the commits).
- serial feedparser: `feedparser.parse(url)` one feed after another, with the `etag` and
  `modified` it returned last time.
- reader: lemon24/reader's `update_feeds(workers=16)` over its own fresh database.
- network limit: plain aiohttp GETs, 64 at a time, with the validators of the last answer, no
  parsing: what loopback and the farm allow.

A pass is cold (a fresh subscriber; every feed answers 200), warm (every feed answers 304) or
round (a tenth of the feeds changed since the warm pass; the rest answer 304). Every pass counts
the answers it got, so a contender that failed fetches cannot look fast. offthewire and reader
also give the size of their database after each pass (the SQLite file and its write-ahead log).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp

from bench.common import bench_settings, median, progress, timed

PASSES = ("cold", "warm", "round")
NETWORK_CONCURRENCY = 64
READER_WORKERS = 16
T = TypeVar("T")


@dataclass(frozen=True)
class Answers:
    """What one pass got back: full answers, 304s, failures, new entries stored and (offthewire)
    the seconds of the pass spent publishing, and spent storing (`Pipeline._store_bodies`,
    `Pipeline._absorb` and `Store._commit`: how long the thread that stores was busy), and the
    size of the contender's database after the pass."""

    fetched: int = 0
    not_modified: int = 0
    failed: int = 0
    new_entries: int | None = None
    publish_s: float | None = None
    store_s: float | None = None
    database_mb: float | None = None


class Contender(Protocol):
    name: str
    label: str

    def start(self, urls: list[str], folder: Path) -> None: ...

    def poll(self) -> Answers: ...

    def stop(self) -> None: ...


class OffTheWire:
    name, label = "offthewire", "offthewire"

    def start(self, urls: list[str], folder: Path) -> None:
        from aggregator.core import make_aggregator

        self.aggregator = make_aggregator(bench_settings(folder))
        for url in urls:
            self.aggregator.add_source(url)
        self.database = folder / "offthewire.db"
        # Storing's busy time: the new bodies stored, every other answer stored, and each commit
        # of the batches they are stored in, a call inside another counted once (instance
        # attributes, looked up at every call, so only this aggregator is timed).
        self.store_seconds = 0.0
        self._depth = 0
        pipeline, store = self.aggregator.pipeline, self.aggregator.store
        pipeline._store_bodies = self._timed(pipeline._store_bodies)  # type: ignore[method-assign]
        pipeline._absorb = self._timed(pipeline._absorb)  # type: ignore[method-assign]
        store._commit = self._timed(store._commit)  # type: ignore[method-assign]

    def _timed(self, function: Callable[..., T]) -> Callable[..., T]:
        def timed(*args: Any, **kwargs: Any) -> T:
            started = time.perf_counter()
            self._depth += 1
            try:
                return function(*args, **kwargs)
            finally:
                self._depth -= 1
                if not self._depth:
                    self.store_seconds += time.perf_counter() - started

        return timed

    def poll(self) -> Answers:
        self.store_seconds = 0.0
        summary = self.aggregator.poll(every_source=True, publish=False)
        failed = len(summary.failed)
        not_modified = sum(1 for o in summary.outcomes if o.status == 304)
        fetched = len(summary.outcomes) - failed - not_modified
        return Answers(
            fetched,
            not_modified,
            failed,
            summary.new,
            summary.publish_seconds,
            self.store_seconds,
            database_mb(self.database),
        )

    def stop(self) -> None:
        self.aggregator.close()


class SerialFeedparser:
    name, label = "feedparser", "serial feedparser"

    def start(self, urls: list[str], folder: Path) -> None:
        self.urls = urls
        self.validators: dict[str, tuple[Any, Any]] = {}

    def poll(self) -> Answers:
        import feedparser

        fetched = not_modified = failed = entries = 0
        for url in self.urls:
            etag, modified = self.validators.get(url, (None, None))
            parsed = feedparser.parse(url, etag=etag, modified=modified)
            status = parsed.get("status")
            if status == 304:
                not_modified += 1
            elif status == 200 and parsed.entries:
                fetched += 1
                entries += len(parsed.entries)
            else:
                failed += 1
            self.validators[url] = (parsed.get("etag") or etag, parsed.get("modified") or modified)
        return Answers(fetched, not_modified, failed, entries)

    def stop(self) -> None:
        self.validators = {}


class LemonReader:
    name, label = "reader", f"reader ({READER_WORKERS} workers)"

    def start(self, urls: list[str], folder: Path) -> None:
        from reader import make_reader

        folder.mkdir(parents=True, exist_ok=True)
        self.database = folder / "reader.sqlite"
        self.reader = make_reader(str(self.database))
        for url in urls:
            self.reader.add_feed(url)

    def poll(self) -> Answers:
        fetched = not_modified = failed = new = 0
        # scheduled=False: every feed, as the other contenders poll every feed.
        for result in self.reader.update_feeds_iter(workers=READER_WORKERS, scheduled=False):
            if result.error is not None:
                failed += 1
            elif result.updated_feed is None:
                not_modified += 1
            else:
                fetched += 1
                new += result.updated_feed.new
        return Answers(fetched, not_modified, failed, new, database_mb=database_mb(self.database))

    def stop(self) -> None:
        self.reader.close()


class NetworkLimit:
    name, label = "network", f"network limit (aiohttp, {NETWORK_CONCURRENCY})"

    def start(self, urls: list[str], folder: Path) -> None:
        self.urls = urls
        self.validators: dict[str, dict[str, str]] = {}

    def poll(self) -> Answers:
        return asyncio.run(self._poll())

    async def _poll(self) -> Answers:
        slots = asyncio.Semaphore(NETWORK_CONCURRENCY)
        connector = aiohttp.TCPConnector(limit=NETWORK_CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def get(url: str) -> int:
                async with slots, session.get(url, headers=self.validators.get(url, {})) as response:
                    await response.read()
                    if response.status in (200, 304):
                        self.validators[url] = _conditional_headers(response.headers)
                    return response.status

            statuses = await asyncio.gather(*(get(url) for url in self.urls), return_exceptions=True)
        fetched = sum(1 for s in statuses if s == 200)
        not_modified = sum(1 for s in statuses if s == 304)
        return Answers(fetched, not_modified, len(statuses) - fetched - not_modified)

    def stop(self) -> None:
        self.validators = {}


def database_mb(path: Path) -> float:
    """Megabytes of an SQLite database and its write-ahead log."""
    files = (path, path.with_name(path.name + "-wal"))
    return sum(f.stat().st_size for f in files if f.exists()) / 1e6


def _conditional_headers(headers: Any) -> dict[str, str]:
    sent = {}
    if "ETag" in headers:
        sent["If-None-Match"] = headers["ETag"]
    if "Last-Modified" in headers:
        sent["If-Modified-Since"] = headers["Last-Modified"]
    return sent


def contenders(skip: set[str]) -> list[Contender]:
    """Every contender that is installed and not skipped; reader is optional (the `bench` extra)."""
    found: list[Contender] = [NetworkLimit(), OffTheWire(), LemonReader(), SerialFeedparser()]
    try:
        import reader  # noqa: F401
    except ImportError:
        progress("reader is not installed (pip install -e '.[bench]'); its column is left out")
        skip = skip | {"reader"}
    return [c for c in found if c.name not in skip]


@dataclass
class PassRuns:
    """Every run of one pass of one contender."""

    seconds: list[float]
    answers: list[Answers]

    @property
    def median(self) -> float:
        return median(self.seconds)

    def as_json(self) -> dict[str, Any]:
        return {"median_s": self.median, "runs_s": self.seconds, "answers": [asdict(a) for a in self.answers]}


Results = dict[str, dict[str, PassRuns]]


def run_passes(
    set_generation: Callable[[int], int], urls: list[str], players: list[Contender], runs: int, scratch: Path
) -> tuple[Results, dict[str, str]]:
    """`runs` times, every contender: a fresh start, then cold, warm and round passes. A contender
    that raises is dropped from the results and its error returned; the others go on."""
    results: Results = {c.name: {p: PassRuns([], []) for p in PASSES} for c in players}
    errors: dict[str, str] = {}
    for run in range(runs):
        for contender in (c for c in players if c.name not in errors):
            try:
                one_run(set_generation, urls, contender, scratch / f"{contender.name}-{run}", results[contender.name])
            except Exception as exc:  # reported beside the other contenders' figures
                errors[contender.name] = f"{type(exc).__name__}: {exc}"
                progress(f"  {contender.label} failed: {errors[contender.name]}")
            progress(f"  run {run + 1}/{runs} {contender.label}: done")
    return {name: runs for name, runs in results.items() if name not in errors}, errors


def one_run(
    set_generation: Callable[[int], int], urls: list[str], contender: Contender, folder: Path, into: dict[str, PassRuns]
) -> None:
    """A fresh start of `contender`, then its cold, warm and round passes, each timed."""
    set_generation(0)
    contender.start(urls, folder)
    try:
        for name in PASSES:
            if name == "round":
                set_generation(1)
            gc.collect()
            seconds, answers = timed(contender.poll)
            into[name].seconds.append(seconds)
            into[name].answers.append(answers)
            progress(
                f"    {contender.label:<32} {name:<5} {seconds:8.2f} s  "
                f"{answers.fetched} x 200, {answers.not_modified} x 304, {answers.failed} failed"
            )
    finally:
        contender.stop()


def expected(urls: int, changed: int) -> dict[str, Answers]:
    """The answers a correct pass gets."""
    return {
        "cold": Answers(urls, 0, 0),
        "warm": Answers(0, urls, 0),
        "round": Answers(changed, urls - changed, 0),
    }


def checks(results: Results, urls: int, changed: int) -> list[str]:
    """Passes whose answers were not what the farm served (a failed fetch makes a pass look fast)."""
    wanted = expected(urls, changed)
    problems = []
    for contender, passes in results.items():
        for name, runs in passes.items():
            for answers in runs.answers:
                got = (answers.fetched, answers.not_modified, answers.failed)
                want = (wanted[name].fetched, wanted[name].not_modified, wanted[name].failed)
                if got != want:
                    problems.append(f"{contender} {name}: got {got} (200, 304, failed), expected {want}")
    return problems
