"""Fakes at the seams, for tests of the pipeline's logic called directly: a fetcher that answers
from a dictionary instead of the network, and a clock that moves only when told."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from aggregator.config import OutputSettings, PollSettings, Settings, StorageSettings, load_settings
from aggregator.core import Aggregator, utc_now
from aggregator.store import Store
from aggregator.types import FetchResult, Source
from aggregator.update.pipeline import Clock, Fetcher

RSS_HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}


class FakeClock:
    """`now` as the pipeline reads it; it moves when a test calls `advance`."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class FakeFetcher:
    """Answers each source's URL with the document in `documents` (200), the status in `statuses`
    (304: not modified, with no body; another: that HTTP error) or the error in `errors` (no status:
    the host could not be reached), in the way `fetch.fetch_all` does: results in the order of the
    sources, and a body handed to `on_result` is not kept in the returned result once it was
    consumed. `asked` is every source it was asked for, as it was asked (with its validators)."""

    documents: dict[str, bytes]
    errors: dict[str, str]
    statuses: dict[str, int]
    asked: list[Source]

    def __init__(self) -> None:
        self.documents = {}
        self.errors = {}
        self.statuses = {}
        self.asked = []

    async def __call__(
        self,
        sources: Sequence[Source],
        settings: PollSettings,
        on_result: Callable[[FetchResult], Awaitable[None] | None] | None = None,
    ) -> list[FetchResult]:
        results = []
        for source in sources:
            self.asked.append(source)
            status = self.statuses.get(source.url)
            if source.url in self.errors:
                result = FetchResult(source.url, source.url, error=self.errors[source.url])
            elif status == 304:
                result = FetchResult(source.url, source.url, 304, {})
            elif status is not None:
                result = FetchResult(source.url, source.url, status, dict(RSS_HEADERS), error=f"HTTP {status}")
            else:
                body = self.documents.get(source.url)
                result = FetchResult(
                    source.url, source.url, 200 if body is not None else 404, dict(RSS_HEADERS), body=body
                )
                if body is None:
                    result = replace(result, error="HTTP 404")
            consumed = on_result(result) if on_result else None
            if inspect.isawaitable(consumed):
                await consumed
                result = replace(result, body=None)
            results.append(result)
        return results


@contextmanager
def aggregator_in(folder: Path, clock: FakeClock, fetcher: FakeFetcher) -> Iterator[Aggregator]:
    """An Aggregator over a new database in `folder`, polling through `fetcher` at `clock`'s time."""
    settings = settings_in(folder)
    with Aggregator(settings, Store(settings.storage.path), clock=clock, fetcher=fetcher) as aggregator:
        yield aggregator


def settings_in(folder: Path, **poll: object) -> Settings:
    """Settings with the database and outputs in `folder`."""
    return Settings(
        storage=StorageSettings(folder / "offthewire.db"),
        output=OutputSettings(dir=folder / "public"),
        poll=PollSettings(**poll),  # type: ignore[arg-type]
    )


@contextmanager
def aggregator_for(config: Path, clock: Clock = utc_now, fetcher: Fetcher | None = None) -> Iterator[Aggregator]:
    """An Aggregator over the installation a config file describes (a `wire` fixture's), with the
    settings the CLI reads from it. With a fake clock and fetcher it runs a test's logic directly;
    with the defaults (the wall clock, the real fetcher) it sets up what a CLI test then runs a
    command on. Leave the block before running the CLI: it closes the database."""
    settings = load_settings(config)
    with Aggregator(settings, Store(settings.storage.path), clock=clock, fetcher=fetcher) as aggregator:
        yield aggregator
