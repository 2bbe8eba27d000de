"""The parser processes called directly: a feed parsed and prepared in a worker is what parsing it
inline gives, a feed that is not one raises the same ParseError, and `close()` ends the workers.
Every wait is bounded."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import rss

from aggregator.exceptions import ParseError
from aggregator.topics import TopicMatcher
from aggregator.types import Source, Topic
from aggregator.update.pool import ParserPool, Prepared, _running, parse_and_prepare

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}
SOURCE = Source(7, "https://wire.example/feed", topics=("wire",))
MATCHER = TopicMatcher([Topic("energy", "Energy", keywords=("oil",))])
WAIT_SECONDS = 60  # starting the fork server on a loaded machine takes a few seconds at most
DOCUMENT = rss(
    [
        ("a", "Oil prices climb as refinery shuts", "https://wire.example/a", NOW - timedelta(hours=1)),
        ("b", "Harbour cranes idle in dockers strike", "https://wire.example/b", NOW - timedelta(hours=2)),
    ],
    title="The Wire",
)


@pytest.fixture
def pool() -> Iterator[ParserPool]:
    pool = ParserPool(processes=1)
    yield pool
    pool.close()


def in_worker(pool: ParserPool, job: Callable[[], Any]) -> Any:
    async def run() -> Any:
        return await asyncio.wait_for(pool.prepare(asyncio.get_running_loop(), job), WAIT_SECONDS)

    return asyncio.run(run())


def test_a_feed_prepared_in_a_worker_is_what_inline_parsing_gives(pool: ParserPool) -> None:
    job = functools.partial(parse_and_prepare, DOCUMENT, HEADERS, SOURCE.url, NOW, SOURCE, MATCHER)

    prepared: Prepared = in_worker(pool, job)

    assert prepared == job()
    parsed, items, versions = prepared
    assert parsed.meta.title == "The Wire"
    assert parsed.entries == (), "the entries are dropped once prepared"
    assert [item.title for item in items] == [
        "Oil prices climb as refinery shuts",
        "Harbour cranes idle in dockers strike",
    ]
    assert set(items[0].topics) == {"energy", "wire"}
    assert all(item.match_keys for item in items)
    assert len(versions) == 2


def test_entries_prepared_before_are_not_prepared_again(pool: ParserPool) -> None:
    _, _, versions = parse_and_prepare(DOCUMENT, HEADERS, SOURCE.url, NOW, SOURCE, MATCHER)
    job = functools.partial(parse_and_prepare, DOCUMENT, HEADERS, SOURCE.url, NOW, SOURCE, MATCHER, versions)

    _, items, again = in_worker(pool, job)

    assert (items, again) == ([], versions)


def test_a_body_that_is_not_a_feed_raises_parse_error_from_the_worker(pool: ParserPool) -> None:
    job = functools.partial(
        parse_and_prepare, b"<html><body>Not a feed</body></html>", {}, SOURCE.url, NOW, SOURCE, MATCHER
    )

    with pytest.raises(ParseError) as raised:
        in_worker(pool, job)

    with pytest.raises(ParseError) as inline:
        job()
    assert str(raised.value) == str(inline.value)


def test_close_ends_the_workers_and_the_pool_starts_again_when_needed(pool: ParserPool) -> None:
    worker = in_worker(pool, os.getpid)
    assert worker != os.getpid()
    assert _running(worker)

    pool.close()

    deadline = time.monotonic() + WAIT_SECONDS
    while _running(worker):
        assert time.monotonic() < deadline, f"worker {worker} still runs {WAIT_SECONDS} s after close()"
        time.sleep(0.05)
    again = in_worker(pool, os.getpid)
    assert again not in (worker, os.getpid())
