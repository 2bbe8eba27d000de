"""Parsing on every core: a process pool that parses fetched bodies while the event loop keeps
fetching.

feedparser is most of a cold poll's CPU, and one Python process parses on one core. The pool's
processes are started by a fork server (a clean process, not a fork of one with threads in it)
and import only the parser. A poll of a few sources parses inline instead: starting the pool
costs more than it saves there.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime

from aggregator.parse import parse_feed
from aggregator.types import ParsedFeed

MAX_PROCESSES = 8


class ParserPool:
    """Processes that run `parse_feed`, started when first needed and kept until `close()`."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or min(MAX_PROCESSES, os.cpu_count() or 1)
        self._executor: ProcessPoolExecutor | None = None

    def parse(
        self, loop: asyncio.AbstractEventLoop, body: bytes, headers: dict[str, str], url: str, now: datetime
    ) -> asyncio.Future[ParsedFeed]:
        """`parse_feed(body, headers, url, now)` in a worker process; raises what parse_feed raises."""
        return loop.run_in_executor(self._start(), parse_feed, body, headers, url, now)

    def _start(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["aggregator.parse"])
            self._executor = ProcessPoolExecutor(self.processes, mp_context=context)
        return self._executor

    def close(self) -> None:
        """Stop the processes (a broken pool is replaced at the next `parse`)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
