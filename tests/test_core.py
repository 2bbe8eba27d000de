"""The Aggregator facade called directly, over a real store with a fake fetcher and clock: what
`add` refuses and with which exit code, `why` for two stored items, `prune` then publish, and
`check` once the database file is gone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import rss
from fakes import FakeClock, FakeFetcher, settings_in

from aggregator.config import RetentionSettings
from aggregator.core import MAX_EVERY_MINUTES, Aggregator
from aggregator.exceptions import AlreadySubscribedError, ConfigError, InvalidURLError, StorageError
from aggregator.store import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ARTICLE = "https://news.example/2026/11/20/harbour"


@pytest.fixture
def fetcher() -> FakeFetcher:
    return FakeFetcher()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def aggregator(tmp_path: Path, clock: FakeClock, fetcher: FakeFetcher) -> Iterator[Aggregator]:
    settings = settings_in(tmp_path)
    with Aggregator(settings, Store(settings.storage.path), clock=clock, fetcher=fetcher) as aggregator:
        yield aggregator


# add


@pytest.mark.parametrize("url", ["ftp://wire.example/feed", "not a url", "file:///etc/passwd", "http://"])
def test_a_url_that_is_not_a_feed_url_is_refused_with_exit_code_2(aggregator: Aggregator, url: str) -> None:
    with pytest.raises(InvalidURLError) as raised:
        aggregator.add_source(url)

    assert raised.value.exit_code == 2
    assert aggregator.sources() == []


@pytest.mark.parametrize("every", [0, -5, MAX_EVERY_MINUTES + 1])
def test_every_out_of_range_is_a_config_error(aggregator: Aggregator, every: int) -> None:
    with pytest.raises(ConfigError, match="--every must be a positive number of minutes") as raised:
        aggregator.add_source("https://wire.example/feed", every_minutes=every)

    assert raised.value.exit_code == 2
    assert aggregator.sources() == []


def test_every_at_its_bound_and_topics_once_each_are_accepted(aggregator: Aggregator) -> None:
    added = aggregator.add_source(
        "HTTPS://Wire.Example/feed", every_minutes=MAX_EVERY_MINUTES, topics=["energy", "sports", "energy"]
    )

    assert (added.url, added.every_minutes, added.topics) == (
        "https://wire.example/feed",
        MAX_EVERY_MINUTES,
        ("energy", "sports"),
    )
    with pytest.raises(AlreadySubscribedError):
        aggregator.add_source("https://wire.example/feed")


@pytest.mark.parametrize(("option", "value"), [("topics", ["Not A Slug"]), ("rights", "everything")])
def test_a_bad_topic_or_rights_mode_is_a_config_error(aggregator: Aggregator, option: str, value: object) -> None:
    with pytest.raises(ConfigError):
        aggregator.add_source("https://wire.example/feed", **{option: value})  # type: ignore[arg-type]
    assert aggregator.sources() == []


def test_block_private_refuses_a_loopback_source(tmp_path: Path, clock: FakeClock, fetcher: FakeFetcher) -> None:
    settings = settings_in(tmp_path, block_private=True)
    with Aggregator(settings, Store(settings.storage.path), clock=clock, fetcher=fetcher) as aggregator:
        with pytest.raises(InvalidURLError, match="block_private"):
            aggregator.add_source("http://127.0.0.1:8080/feed")
        assert aggregator.sources() == []


# why


def _poll_two_sources(aggregator: Aggregator, fetcher: FakeFetcher, second_title: str, second_link: str) -> None:
    first, second = "https://first.example/feed", "https://second.example/feed"
    aggregator.add_source(first)
    aggregator.add_source(second)
    fetcher.documents[first] = rss([("a", "Harbour cranes idle in dockers strike", ARTICLE, NOW)])
    fetcher.documents[second] = rss([("b", second_title, second_link, NOW + timedelta(minutes=30))])
    aggregator.poll()


def _ids(aggregator: Aggregator) -> tuple[int, int]:
    items = sorted(aggregator.items(), key=lambda item: item.source_id)
    return items[0].id, items[1].id


def test_why_says_two_items_linking_one_article_are_one_story(aggregator: Aggregator, fetcher: FakeFetcher) -> None:
    _poll_two_sources(aggregator, fetcher, "Orchard frost ruins apples", ARTICLE)
    first_id, second_id = _ids(aggregator)

    verdict = aggregator.why(first_id, second_id)

    assert (verdict.first.id, verdict.second.id) == (first_id, second_id)
    assert verdict.same and verdict.stored_together
    assert verdict.reason == f"both link to the same article ({ARTICLE})"


def test_why_says_two_unrelated_items_are_two_stories(aggregator: Aggregator, fetcher: FakeFetcher) -> None:
    _poll_two_sources(aggregator, fetcher, "Orchard frost ruins apples", "https://second.example/frost")

    verdict = aggregator.why(*_ids(aggregator))

    assert not verdict.same and not verdict.stored_together
    assert verdict.reason
    assert verdict.score < 0.5


def test_why_says_items_too_far_apart_are_two_stories(aggregator: Aggregator, fetcher: FakeFetcher) -> None:
    first, second = "https://first.example/feed", "https://second.example/feed"
    aggregator.add_source(first)
    aggregator.add_source(second)
    fetcher.documents[first] = rss([("a", "Harbour cranes idle", ARTICLE, NOW - timedelta(days=5))])
    fetcher.documents[second] = rss([("b", "Harbour cranes idle", ARTICLE, NOW)])
    aggregator.poll()

    verdict = aggregator.why(*_ids(aggregator))

    assert not verdict.same
    assert "more than [dedupe] window_hours" in verdict.reason


def test_why_says_one_outlets_report_a_day_later_is_a_recurring_report(
    aggregator: Aggregator, fetcher: FakeFetcher
) -> None:
    url = "https://wire.example/feed"
    aggregator.add_source(url)
    close = "Stock market today: Wall Street closes higher as tech rallies"
    fetcher.documents[url] = rss(
        [
            ("monday", close, "https://wire.example/a", NOW - timedelta(days=1)),
            ("tuesday", close, "https://wire.example/b", NOW),
        ]
    )
    aggregator.poll()

    verdict = aggregator.why(*[item.id for item in aggregator.items()])

    assert not verdict.same and not verdict.stored_together
    assert "a recurring report, not a revision" in verdict.reason


def test_why_says_one_outlets_revision_within_hours_is_one_story(aggregator: Aggregator, fetcher: FakeFetcher) -> None:
    url = "https://wire.example/feed"
    aggregator.add_source(url)
    fetcher.documents[url] = rss(
        [
            (
                "first",
                "Fire at Osaka chemical plant forces evacuations",
                "https://wire.example/a",
                NOW - timedelta(hours=2),
            ),
            ("update", "UPDATE 1-Fire at Osaka chemical plant forces evacuations", "https://wire.example/b", NOW),
        ]
    )
    aggregator.poll()

    verdict = aggregator.why(*[item.id for item in aggregator.items()])

    assert verdict.same and verdict.stored_together


# prune


def test_prune_deletes_old_items_and_publishes_without_them(
    tmp_path: Path, clock: FakeClock, fetcher: FakeFetcher
) -> None:
    settings = replace(settings_in(tmp_path), retention=RetentionSettings(days=30, keep_per_source=1))
    url = "https://wire.example/feed"
    fetcher.documents[url] = rss(
        [
            ("new", "Orchard frost ruins apples", "https://wire.example/new", NOW - timedelta(days=1)),
            ("old", "Harbour cranes idle", "https://wire.example/old", NOW - timedelta(days=40)),
            ("older", "Choir wins regional trophy", "https://wire.example/older", NOW - timedelta(days=50)),
        ]
    )
    with Aggregator(settings, Store(settings.storage.path), clock=clock, fetcher=fetcher) as aggregator:
        aggregator.add_source(url)
        aggregator.poll()
        feed = settings.output.dir / "off-the-wire.atom"
        assert "Harbour cranes idle" in feed.read_text(encoding="utf-8")

        pruned = aggregator.prune()

        assert pruned == 2
        assert [item.title for item in aggregator.items()] == ["Orchard frost ruins apples"]
        published = feed.read_text(encoding="utf-8")
        assert "Orchard frost ruins apples" in published
        assert "Harbour cranes idle" not in published and "Choir wins" not in published
        assert aggregator.prune() == 0

        # The feed still carries the pruned items: they are not stored again.
        clock.advance(hours=1)
        [outcome] = aggregator.poll(every_source=True).outcomes
        assert (outcome.new, outcome.updated) == (0, 0)


# check


def test_check_raises_a_storage_error_once_the_database_file_is_deleted(aggregator: Aggregator) -> None:
    aggregator.check()
    aggregator.settings.storage.path.unlink()

    with pytest.raises(StorageError, match="was deleted") as raised:
        aggregator.check()

    assert str(aggregator.settings.storage.path) in str(raised.value)
    with pytest.raises(StorageError, match="was deleted"):
        aggregator.poll()
