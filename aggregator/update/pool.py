"""Parsing on every core: a process pool that parses fetched bodies, and prepares their items
(identity, topics, story-matching keys), while the event loop keeps fetching.

Parsing and preparing are most of a cold poll's CPU, and one Python process works on one core.
The pool's processes are started by a fork server (a clean process, not a fork of one with
threads in it). A poll of a few sources works inline instead: starting the pool costs more than
it saves there. Only matching stories and writing stay in the main process: they need the
database. A publish that closes many archive pages at once (a first poll) renders them here too.
A worker whose owner was killed without shutting the pool down exits within a second or so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import TYPE_CHECKING

from aggregator.parse import MAX_ENTRIES, parse_feed
from aggregator.prepare import prepare_changed_items
from aggregator.topics import TopicMatcher
from aggregator.types import NewItem, ParsedFeed, Source, Story

if TYPE_CHECKING:
    from aggregator.publish import FeedContext, FeedSpec, Paging

# The feed (its entries dropped once prepared), its new and changed items, and every entry's version.
Prepared = tuple[ParsedFeed, list[NewItem], frozenset[int]]

# What `render_atom` renders an archive page from: the feed, its stories, the context and the page links.
AtomPage = tuple["FeedSpec", list[Story], "FeedContext", "Paging"]

MAX_PROCESSES = 8
OWNER_CHECK_SECONDS = 1.0  # how often a worker checks that the process it parses for still runs


def parse_and_prepare(
    body: bytes,
    headers: dict[str, str],
    url: str,
    now: datetime,
    source: Source,
    matcher: TopicMatcher,
    stored: frozenset[int] = frozenset(),
    max_entries: int = MAX_ENTRIES,
) -> Prepared:
    """`parse_feed`, then `prepare_changed_items` of its entries; raises what parse_feed raises."""
    parsed = parse_feed(body, headers, url, now, max_entries)
    items, versions = prepare_changed_items(source, parsed.entries, matcher, stored)
    return dataclasses.replace(parsed, entries=()), items, versions


def _end_with(owner: int) -> None:
    """Each worker's initializer: exit once `owner`, the process whose pool this is, has ended. A
    pool shut down normally ends its workers; one whose owner was killed (SIGKILL, the OOM killer)
    would otherwise leave them and their fork server waiting for work forever."""

    def watch() -> None:
        while _running(owner):
            time.sleep(OWNER_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="offthewire-owner-watch", daemon=True).start()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    try:  # a killed process its parent has not reaped yet is a zombie: ended too
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True  # no /proc here: the signal test above is all there is


def _render_atom_page(page: AtomPage) -> bytes:
    from aggregator.publish import render_atom

    return render_atom(*page)


class ParserPool:
    """Processes that run `parse_and_prepare` (and render archive pages when a publish closes
    many), started when first needed and kept until `close()`."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or min(MAX_PROCESSES, os.cpu_count() or 1)
        self._executor: ProcessPoolExecutor | None = None

    def prepare(self, loop: asyncio.AbstractEventLoop, job: Callable[[], Prepared]) -> asyncio.Future[Prepared]:
        """Run `job` (`parse_and_prepare` bound to its arguments) in a worker process; a pool whose
        worker died is replaced first."""
        try:
            return loop.run_in_executor(self._start(), job)
        except BrokenProcessPool:
            self._discard_broken()
            return loop.run_in_executor(self._start(), job)

    def render_atom_pages(self, pages: list[AtomPage]) -> list[bytes]:
        """`render_atom` of each page, in the worker processes (in this one if the pool broke)."""
        from aggregator.publish import render_atom

        try:
            return list(self._start().map(_render_atom_page, pages))
        except BrokenProcessPool:
            self._discard_broken()
            return [render_atom(*page) for page in pages]

    def _start(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["aggregator.update.pool", "aggregator.parse", "feedparser"])
            self._executor = ProcessPoolExecutor(
                self.processes, mp_context=context, initializer=_end_with, initargs=(os.getpid(),)
            )
        return self._executor

    def _discard_broken(self) -> None:
        """Shut down a pool a worker of which died. Its other workers may wait forever on a queue
        lock the dead one held, and one started just as the pool broke is not stopped by the pool
        itself, so shutting down would wait on it forever (CPython 3.11): every worker is ended
        first. `_processes` is the executor's own table of them; there is no public one."""
        if self._executor is not None:
            for process in list((getattr(self._executor, "_processes", None) or {}).values()):
                process.terminate()
        self.close()

    def close(self) -> None:
        """Stop the processes (a broken pool is replaced at the next `parse`)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
