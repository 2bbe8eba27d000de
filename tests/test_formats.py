"""RSS 2.0 and JSON Feed 1.1 beside every Atom feed: same stories, files and HTTP alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest
from conftest import Wire, now_utc, rss
from daemon_helpers import RunningDaemon, configure, free_port, wait_for
from fakes import FakeClock, FakeFetcher, aggregator_for
from feedserver import FeedServer

from aggregator.core import Aggregator

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WORLD = "https://world.example/feed.xml"
MONEY = "https://money.example/feed.xml"


def entries(prefix: str, count: int, now: datetime = T0) -> list[tuple[Any, ...]]:
    return [
        (
            f"urn:{prefix}:{n}",
            f"{prefix.title()} desk files story {n} on {prefix} affairs",
            f"https://{prefix}.example/{n}",
            now - timedelta(minutes=5 * n + 1),
        )
        for n in range(count)
    ]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def aggregator(wire: Wire, clock: FakeClock) -> Iterator[Aggregator]:
    """The `wire` installation with a world and a business source, polled once and published."""
    fetcher = FakeFetcher()
    fetcher.documents.update({WORLD: rss(entries("world", 3)), MONEY: rss(entries("money", 2))})
    with aggregator_for(wire.config, clock, fetcher) as aggregator:
        aggregator.add_source(WORLD, topics=["world"])
        aggregator.add_source(MONEY, topics=["business"])
        assert not aggregator.poll().failed
        yield aggregator


@pytest.fixture
def polled(wire: Wire, aggregator: Aggregator) -> Wire:
    return wire


def atom_entries(wire: Wire, stem: str) -> list[tuple[str, str]]:
    parsed = feedparser.parse((wire.public / f"{stem}.atom").read_bytes())
    return [(e.id, e.title) for e in parsed.entries]


@pytest.mark.parametrize("stem", ["off-the-wire", "topics/world", "topics/business"])
def test_rss_carries_the_atom_feeds_stories_in_the_same_order(polled: Wire, stem: str) -> None:
    document = feedparser.parse((polled.public / f"{stem}.rss").read_bytes())
    assert document.version == "rss20"
    assert not document.bozo, document.get("bozo_exception")
    assert [(e.id, e.title) for e in document.entries] == atom_entries(polled, stem)
    assert all(e.get("published_parsed") for e in document.entries)


def validate_json_feed(document: dict[str, Any]) -> None:
    """The JSON Feed 1.1 specification's required fields and types (https://jsonfeed.org/version/1.1)."""
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(document["title"], str) and document["title"]
    for key in ("home_page_url", "feed_url"):
        assert isinstance(document[key], str) and document[key].startswith(("http://", "https://"))
    assert isinstance(document["items"], list)
    for item in document["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert isinstance(item.get("content_html"), str) or isinstance(item.get("content_text"), str)
        if "url" in item:
            assert item["url"].startswith(("http://", "https://"))
        for key in ("date_published", "date_modified"):
            if key in item:
                assert datetime.fromisoformat(item[key]).tzinfo is not None
        for author in item.get("authors", []):
            assert isinstance(author["name"], str)
        assert all(isinstance(tag, str) for tag in item.get("tags", []))


@pytest.mark.parametrize("stem", ["off-the-wire", "topics/world", "topics/business"])
def test_json_feed_is_valid_and_carries_the_same_stories(polled: Wire, stem: str) -> None:
    document = json.loads((polled.public / f"{stem}.json").read_bytes())
    validate_json_feed(document)
    assert [(i["id"], i["title"]) for i in document["items"]] == atom_entries(polled, stem)
    assert document["feed_url"].endswith(f"feeds/{stem}.json")


def test_atom_links_its_rss_and_json_twins(polled: Wire) -> None:
    links = feedparser.parse((polled.public / "off-the-wire.atom").read_bytes()).feed.links
    alternates = {link.type: link.href for link in links if link.rel == "alternate"}
    assert alternates["application/rss+xml"].endswith("feeds/off-the-wire.rss")
    assert alternates["application/feed+json"].endswith("feeds/off-the-wire.json")


def test_a_removed_topic_takes_all_three_files_with_it(polled: Wire, aggregator: Aggregator, clock: FakeClock) -> None:
    assert len(list((polled.public / "topics").glob("business.*"))) == 3
    money = next(s for s in aggregator.sources() if "business" in s.topics)
    clock.advance(minutes=1)
    aggregator.remove_source(str(money.id))
    aggregator.publish()
    assert not list((polled.public / "topics").glob("business.*"))


def test_every_format_is_served_with_its_type_validators_and_304(wire: Wire, feed_server: FeedServer) -> None:
    port = free_port()
    configure(wire, port)
    with aggregator_for(wire.config) as aggregator:
        aggregator.add_source(feed_server.serve("/world.xml", rss(entries("world", 2, now_utc()))), topics=["world"])
    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        world = wire.public / "topics/world.json"
        wait_for(lambda: world.is_file() and b"World desk files story 1" in world.read_bytes(), 10, "the first poll")
        for path, content_type in (
            ("/feeds/off-the-wire.rss", "application/rss+xml; charset=utf-8"),
            ("/feeds/topics/world.json", "application/feed+json; charset=utf-8"),
        ):
            first = daemon.get(path)
            assert first.status == 200
            assert first.header("Content-Type") == content_type
            assert first.body == (wire.public / path.removeprefix("/feeds/")).read_bytes()
            etag = first.header("ETag")
            assert etag
            assert daemon.get(path, {"If-None-Match": etag}).status == 304
        assert daemon.get("/feeds/topics/nope.rss").status == 404
