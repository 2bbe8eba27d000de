"""Parsing on every core: a process pool that parses fetched bodies, and prepares their items
(identity, topics, story-matching keys), while the event loop keeps fetching.

Parsing and preparing are most of a cold poll's CPU, and one Python process works on one core.
The pool's processes are started by a fork server (a clean process, not a fork of one with
threads in it). A poll of a few sources works inline instead: starting the pool costs more than
it saves there. Only matching stories and writing stay in the main process: they need the
database. A publish that closes many archive pages at once (a first poll) renders them here too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import TYPE_CHECKING

from aggregator.parse import parse_feed
from aggregator.prepare import prepare_changed_items
from aggregator.store import NewItem
from aggregator.topics import TopicMatcher
from aggregator.types import ParsedFeed, Source, Story

if TYPE_CHECKING:
    from aggregator.publish import FeedContext, FeedSpec, Paging

# The feed (its entries dropped once prepared), its new and changed items, and every entry's version.
Prepared = tuple[ParsedFeed, list[NewItem], frozenset[int]]

# What `render_atom` renders an archive page from: the feed, its stories, the context and the page links.
AtomPage = tuple["FeedSpec", list[Story], "FeedContext", "Paging"]

MAX_PROCESSES = 8


def parse_and_prepare(
    body: bytes,
    headers: dict[str, str],
    url: str,
    now: datetime,
    source: Source,
    matcher: TopicMatcher,
    stored: frozenset[int] = frozenset(),
) -> Prepared:
    """`parse_feed`, then `prepare_changed_items` of its entries; raises what parse_feed raises."""
    parsed = parse_feed(body, headers, url, now)
    items, versions = prepare_changed_items(source, parsed.entries, matcher, stored)
    return dataclasses.replace(parsed, entries=()), items, versions


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
            self.close()
            return loop.run_in_executor(self._start(), job)

    def render_atom_pages(self, pages: list[AtomPage]) -> list[bytes]:
        """`render_atom` of each page, in the worker processes (in this one if the pool broke)."""
        from aggregator.publish import render_atom

        try:
            return list(self._start().map(_render_atom_page, pages))
        except BrokenProcessPool:
            self.close()
            return [render_atom(*page) for page in pages]

    def _start(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["aggregator.workers", "aggregator.fastparse", "feedparser"])
            self._executor = ProcessPoolExecutor(self.processes, mp_context=context)
        return self._executor

    def close(self) -> None:
        """Stop the processes (a broken pool is replaced at the next `parse`)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
