"""One poll called directly: the Aggregator over a real store, with a fake fetcher and a clock that
moves only when told. New items are stored and published; the same bytes again store nothing; a
failure is stored and backs off; a 304 clears it; a source removed while polled stores nothing;
every source unreachable at once penalises nobody."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import rss
from fakes import FakeClock, FakeFetcher, aggregator_in

from aggregator.config import PollSettings
from aggregator.core import Aggregator
from aggregator.store import Store
from aggregator.types import FetchRecord, FetchResult, Source
from aggregator.update.pipeline import POLL_COLLECTION_THRESHOLD, fewer_collections

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
URL = "https://wire.example/feed"
OTHER = "https://other.example/feed"
# [poll] every is 15 minutes and jitter a tenth of it: a healthy source is due within 16.5 minutes.
LONGEST_NORMAL = timedelta(minutes=15 * 1.1)
UNREACHABLE = "cannot connect to wire.example:443 (Network is unreachable)"


def feed(prefix: str, count: int = 3) -> bytes:
    subjects = ["harbour cranes idle", "orchard frost ruins apples", "choir wins regional trophy", "tram depot floods"]
    return rss(
        [
            (f"{prefix}-{n}", f"{prefix.title()}: {subjects[n]}", f"https://{prefix}.example/{n}", T0)
            for n in range(count)
        ],
        title=f"{prefix.title()} Wire",
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + timedelta(hours=1))


@pytest.fixture
def fetcher() -> FakeFetcher:
    return FakeFetcher()


@pytest.fixture
def aggregator(tmp_path: Path, clock: FakeClock, fetcher: FakeFetcher) -> Iterator[Aggregator]:
    with aggregator_in(tmp_path, clock, fetcher) as aggregator:
        yield aggregator


def source(aggregator: Aggregator, url: str = URL) -> Source:
    return aggregator.find_source(url)


def merged_feed(aggregator: Aggregator) -> str:
    return (aggregator.settings.output.dir / "off-the-wire.atom").read_text(encoding="utf-8")


def test_a_first_poll_stores_and_publishes_every_entry(aggregator: Aggregator, fetcher: FakeFetcher) -> None:
    added = aggregator.add_source(URL)
    fetcher.documents[URL] = feed("wire")

    summary = aggregator.poll()

    [outcome] = summary.outcomes
    assert (outcome.source_id, outcome.status, outcome.new, outcome.updated, outcome.error) == (
        added.id,
        200,
        3,
        0,
        None,
    )
    assert outcome.name == "Wire Wire"
    polled = source(aggregator)
    assert (polled.item_count, polled.last_status, polled.error_count, polled.feed_title) == (3, 200, 0, "Wire Wire")
    assert polled.last_fetched_at == aggregator.clock()
    assert polled.body_hash is not None
    assert polled.next_fetch_at is not None
    assert aggregator.clock() < polled.next_fetch_at <= aggregator.clock() + LONGEST_NORMAL
    assert outcome.next_at is not None and polled.next_fetch_at == outcome.next_at.replace(microsecond=0)
    assert aggregator.settings.output.dir / "off-the-wire.atom" in summary.published
    assert merged_feed(aggregator).count("<entry>") == 3
    assert {item.title for item in aggregator.items()} == {
        "Wire: harbour cranes idle",
        "Wire: orchard frost ruins apples",
        "Wire: choir wins regional trophy",
    }


def test_the_same_bytes_again_store_nothing(aggregator: Aggregator, fetcher: FakeFetcher, clock: FakeClock) -> None:
    aggregator.add_source(URL)
    fetcher.documents[URL] = feed("wire")
    aggregator.poll()
    first = source(aggregator)
    clock.advance(minutes=20)

    summary = aggregator.poll()

    [outcome] = summary.outcomes
    assert (outcome.new, outcome.updated, outcome.not_modified) == (0, 0, True)
    assert summary.published == (), "nothing changed, so nothing was written again"
    again = source(aggregator)
    assert (again.item_count, again.body_hash) == (3, first.body_hash)
    assert again.last_fetched_at == clock()
    assert len(fetcher.asked) == 2


def test_a_new_entry_is_stored_beside_the_known_ones(
    aggregator: Aggregator, fetcher: FakeFetcher, clock: FakeClock
) -> None:
    aggregator.add_source(URL)
    fetcher.documents[URL] = feed("wire", 3)
    aggregator.poll()
    clock.advance(minutes=20)
    fetcher.documents[URL] = feed("wire", 4)

    [outcome] = aggregator.poll().outcomes

    assert (outcome.new, outcome.updated) == (1, 0)
    assert source(aggregator).item_count == 4
    assert merged_feed(aggregator).count("<entry>") == 4


def test_a_fetch_error_is_stored_and_backs_off(aggregator: Aggregator, fetcher: FakeFetcher, clock: FakeClock) -> None:
    aggregator.add_source(URL)
    aggregator.add_source(OTHER)
    fetcher.documents[OTHER] = feed("other")
    fetcher.errors[URL] = UNREACHABLE

    summary = aggregator.poll()

    assert not summary.network_down, "one source unreachable is that source's problem"
    [failed] = summary.failed
    assert (failed.url, failed.error) == (URL, UNREACHABLE)
    broken = source(aggregator)
    assert (broken.last_error, broken.error_count, broken.item_count) == (UNREACHABLE, 1, 0)
    assert broken.next_fetch_at is not None and broken.next_fetch_at > clock() + LONGEST_NORMAL
    assert broken.next_reason == "backing off after 1 consecutive failures"
    first_wait = broken.next_fetch_at - clock()
    healthy = source(aggregator, OTHER)
    assert (healthy.last_error, healthy.item_count) == (None, 3)
    assert healthy.next_fetch_at is not None and healthy.next_fetch_at <= clock() + LONGEST_NORMAL

    clock.advance(hours=1)
    aggregator.poll(names=[URL])
    twice = source(aggregator)
    assert twice.error_count == 2
    assert twice.next_fetch_at is not None
    assert twice.next_fetch_at - clock() > first_wait, "the second failure waits longer than the first"


def test_an_http_error_keeps_the_items_stored_before(
    aggregator: Aggregator, fetcher: FakeFetcher, clock: FakeClock
) -> None:
    aggregator.add_source(URL)
    fetcher.documents[URL] = feed("wire")
    aggregator.poll()
    clock.advance(minutes=20)
    fetcher.statuses[URL] = 503

    [outcome] = aggregator.poll().outcomes

    assert (outcome.status, outcome.error) == (503, "HTTP 503")
    failed = source(aggregator)
    assert (failed.last_status, failed.last_error, failed.error_count, failed.item_count) == (503, "HTTP 503", 1, 3)


def test_a_304_after_a_failure_clears_the_error_and_keeps_the_validators(
    aggregator: Aggregator, fetcher: FakeFetcher, clock: FakeClock
) -> None:
    aggregator.add_source(URL)
    fetcher.documents[URL] = feed("wire")
    aggregator.poll()
    aggregator.store.record_fetch(source(aggregator).id, FetchRecord(etag='"v1"'))
    healthy = source(aggregator)
    clock.advance(minutes=20)
    fetcher.statuses[URL] = 500
    aggregator.poll()
    assert source(aggregator).error_count == 1
    clock.advance(hours=1)
    fetcher.statuses[URL] = 304

    [outcome] = aggregator.poll().outcomes

    assert (outcome.status, outcome.not_modified, outcome.error) == (304, True, None)
    recovered = source(aggregator)
    assert (recovered.last_status, recovered.last_error, recovered.error_count) == (304, None, 0)
    assert (recovered.etag, recovered.body_hash, recovered.item_count) == ('"v1"', healthy.body_hash, 3)
    assert recovered.last_fetched_at == clock()
    assert recovered.next_fetch_at is not None and recovered.next_fetch_at <= clock() + LONGEST_NORMAL
    assert recovered.next_reason == healthy.next_reason
    assert fetcher.asked[-1].etag == '"v1"', "the stored validator was handed to the fetcher"


def test_a_source_removed_while_it_is_polled_stores_nothing(
    aggregator: Aggregator, fetcher: FakeFetcher, tmp_path: Path
) -> None:
    aggregator.add_source(URL)
    aggregator.add_source(OTHER)
    fetcher.documents[URL] = feed("wire")
    fetcher.documents[OTHER] = feed("other")

    async def removing_first(
        sources: Sequence[Source],
        settings: PollSettings,
        on_result: Callable[[FetchResult], Awaitable[None] | None] | None = None,
    ) -> list[FetchResult]:
        # Another process (the CLI) removes the source once its fetch is on the way.
        other = Store(tmp_path / "offthewire.db")
        try:
            other.remove_source(other.find_source(URL, None).id, keep_items=False, now=T0)
        finally:
            other.close()
        return await fetcher(sources, settings, on_result)

    aggregator.pipeline.fetcher = removing_first

    summary = aggregator.poll(every_source=True)

    removed, kept = summary.outcomes
    assert (removed.url, removed.new, removed.error) == (URL, 0, "removed while polled")
    assert (kept.url, kept.new, kept.error) == (OTHER, 3, None)
    assert [s.url for s in aggregator.sources()] == [OTHER]
    assert {item.source_url for item in aggregator.items()} == {OTHER}
    assert aggregator.store.db.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == 1


def test_network_down_penalises_nobody(aggregator: Aggregator, fetcher: FakeFetcher, clock: FakeClock) -> None:
    for url in (URL, OTHER):
        aggregator.add_source(url)
        fetcher.errors[url] = UNREACHABLE

    summary = aggregator.poll()

    assert summary.network_down
    assert len(summary.failed) == 2
    for url in (URL, OTHER):
        polled = source(aggregator, url)
        assert (polled.last_error, polled.error_count) == (UNREACHABLE, 0)
        assert polled.next_fetch_at is not None and polled.next_fetch_at <= clock() + LONGEST_NORMAL
        assert polled.next_reason == "the network was unreachable for every source; retrying at the normal interval"


def test_an_http_error_among_unreachable_sources_is_not_network_down(
    aggregator: Aggregator, fetcher: FakeFetcher
) -> None:
    """A status means a server answered: the network is up, and every failure counts."""
    aggregator.add_source(URL)
    aggregator.add_source(OTHER)
    fetcher.errors[URL] = UNREACHABLE
    fetcher.statuses[OTHER] = 502

    summary = aggregator.poll()

    assert not summary.network_down
    assert [source(aggregator, url).error_count for url in (URL, OTHER)] == [1, 1]


def test_only_due_sources_are_polled(aggregator: Aggregator, fetcher: FakeFetcher, clock: FakeClock) -> None:
    aggregator.add_source(URL)
    fetcher.documents[URL] = feed("wire")
    aggregator.poll()
    aggregator.add_source(OTHER)
    fetcher.documents[OTHER] = feed("other")

    first = aggregator.poll()
    clock.advance(minutes=17)
    second = aggregator.poll()

    assert [outcome.url for outcome in first.outcomes] == [OTHER]
    assert sorted(outcome.url for outcome in second.outcomes) == [OTHER, URL]


def test_a_poll_runs_the_cycle_collector_less_often_and_gives_the_threshold_back() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        assert gc.get_threshold()[0] == max(before[0], POLL_COLLECTION_THRESHOLD)
        assert gc.get_threshold()[1:] == before[1:]
        raise RuntimeError("a poll that fails")
    assert gc.get_threshold() == before
