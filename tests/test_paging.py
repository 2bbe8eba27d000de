"""RFC 5005 archived feeds: the subscription document links archive pages that never change once
full, so a reader that was away walks back and finds every story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import Wire, now_utc, rss
from daemon_helpers import RunningDaemon, configure, free_port
from fakes import FakeClock, FakeFetcher, aggregator_for
from feedserver import FeedServer
from lxml import etree

from aggregator.core import Aggregator

RNG = Path(__file__).parent / "data" / "atom.rng"
ATOM = "{http://www.w3.org/2005/Atom}"
ARCHIVE_MARK = "{http://purl.org/syndication/history/1.0}archive"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DESK = "https://desk.example/feed.xml"


def stories(start: int, count: int, now: datetime = T0) -> list[tuple[Any, ...]]:
    """Distinct stories, numbered; a higher number is newer."""
    return [
        (
            f"urn:desk:{n}",
            f"Desk story {n}: {word} report number {n}",
            f"https://desk.example/{n}",
            now - timedelta(minutes=500 - n),
        )
        for n, word in (
            (n, ("harbour", "market", "council", "river", "school")[n % 5]) for n in range(start, start + count)
        )
    ]


def links(path: Path) -> dict[str, str]:
    root = etree.parse(str(path)).getroot()
    return {link.get("rel"): link.get("href") for link in root.iter(f"{ATOM}link") if link.getparent() is root}


def titles(path: Path) -> list[str]:
    return [entry.title for entry in feedparser.parse(path.read_bytes()).entries]


def local(wire: Wire, url: str) -> Path:
    return wire.public / url.removeprefix(wire.base_url + "feeds/")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def fetcher() -> FakeFetcher:
    return FakeFetcher()


def poll(aggregator: Aggregator, fetcher: FakeFetcher, feed: bytes) -> None:
    """Answer the desk's feed with `feed`, and poll every source."""
    fetcher.documents[DESK] = feed
    assert not aggregator.poll(every_source=True).failed


def walk_back(wire: Wire) -> list[list[str]]:
    """What a reader following prev-archive from the subscription document reads, page by page."""
    pages = [titles(wire.feed_file())]
    url = links(wire.feed_file()).get("prev-archive")
    for _ in range(100):
        if url is None or not local(wire, url).exists():
            break
        pages.append(titles(local(wire, url)))
        url = links(local(wire, url)).get("prev-archive")
    return pages


def test_archive_pages_fill_close_and_never_change(wire: Wire, clock: FakeClock, fetcher: FakeFetcher) -> None:
    wire.configure(output={"limit": 5, "archive_pages": 2}, topics=[])
    with aggregator_for(wire.config, clock, fetcher) as aggregator:
        aggregator.add_source(DESK)
        poll(aggregator, fetcher, rss(stories(1, 12)))

        archive = wire.public / "archive" / "off-the-wire"
        assert sorted(p.name for p in archive.iterdir()) == ["1.atom", "2.atom"]
        current = links(wire.feed_file())
        assert current["prev-archive"] == wire.base_url + "feeds/archive/off-the-wire/2.atom"
        assert current["next"] == current["prev-archive"]
        page2 = links(archive / "2.atom")
        assert page2["self"] == current["prev-archive"]
        assert page2["current"] == wire.base_url + "feeds/off-the-wire.atom"
        assert page2["prev-archive"] == wire.base_url + "feeds/archive/off-the-wire/1.atom"
        assert "prev-archive" not in links(archive / "1.atom")
        # Pages hold stories in the order they arrived, newest first inside a page.
        assert [t.split(":")[0] for t in titles(archive / "1.atom")] == [f"Desk story {n}" for n in (5, 4, 3, 2, 1)]
        assert [t.split(":")[0] for t in titles(archive / "2.atom")] == [f"Desk story {n}" for n in (10, 9, 8, 7, 6)]
        schema = etree.RelaxNG(etree.parse(str(RNG)))
        for path in (archive / "1.atom", archive / "2.atom", wire.feed_file()):
            document = etree.parse(str(path))
            assert schema.validate(document), schema.error_log
            marked = document.getroot().find(ARCHIVE_MARK) is not None
            assert marked == (path != wire.feed_file())
        assert {t for page in walk_back(wire) for t in page} == {s[1] for s in stories(1, 12)}

        frozen = (archive / "2.atom").read_bytes(), (archive / "2.atom").stat().st_mtime_ns
        clock.advance(minutes=20)
        poll(aggregator, fetcher, rss(stories(1, 17)))

        # Page 3 closed; only the newest two pages are kept; page 2 is byte for byte what it was.
        assert sorted(p.name for p in archive.iterdir()) == ["2.atom", "3.atom"]
        assert ((archive / "2.atom").read_bytes(), (archive / "2.atom").stat().st_mtime_ns) == frozen
        assert links(wire.feed_file())["prev-archive"].endswith("/3.atom")
        seen = {t for page in walk_back(wire) for t in page}
        assert seen == {s[1] for s in stories(6, 12)}

        # A missing page file is written again from the database, with the same stories.
        (archive / "3.atom").unlink()
        aggregator.publish()
        assert [t.split(":")[0] for t in titles(archive / "3.atom")] == [
            f"Desk story {n}" for n in (15, 14, 13, 12, 11)
        ]


def test_topic_feeds_have_their_own_archive_and_zero_turns_paging_off(
    wire: Wire, clock: FakeClock, fetcher: FakeFetcher
) -> None:
    wire.configure(output={"limit": 3}, topics=[{"slug": "harbour", "keywords": ["harbour"]}])
    with aggregator_for(wire.config, clock, fetcher) as aggregator:
        aggregator.add_source(DESK)
        poll(aggregator, fetcher, rss(stories(0, 20)))  # 4 harbour stories: 0, 5, 10, 15
    topic_archive = wire.public / "archive" / "topics" / "harbour"
    assert [p.name for p in topic_archive.iterdir()] == ["1.atom"]
    assert [t.split(":")[0] for t in titles(topic_archive / "1.atom")] == [f"Desk story {n}" for n in (10, 5, 0)]
    assert links(wire.feed_file("harbour"))["prev-archive"].endswith("/archive/topics/harbour/1.atom")

    wire.configure(output={"limit": 3, "archive_pages": 0}, topics=[{"slug": "harbour", "keywords": ["harbour"]}])
    with aggregator_for(wire.config, clock, fetcher) as aggregator:
        aggregator.publish()
    assert "prev-archive" not in links(wire.feed_file())
    assert "prev-archive" not in links(wire.feed_file("harbour"))


def test_archive_pages_are_served_with_validators(wire: Wire, feed_server: FeedServer) -> None:
    port = free_port()
    configure(wire, port, output={"limit": 4, "archive_pages": 3}, topics=[])
    with aggregator_for(wire.config) as aggregator:  # the wall clock and the real fetcher, as the daemon has
        aggregator.add_source(feed_server.serve("/desk.xml", rss(stories(1, 9, now_utc()))))
        assert not aggregator.poll().failed
    with RunningDaemon(wire, port, name="paging-daemon") as daemon:
        daemon.wait_ready()
        page = daemon.get("/feeds/archive/off-the-wire/2.atom")
        assert page.status == 200
        assert page.body == (wire.public / "archive" / "off-the-wire" / "2.atom").read_bytes()
        assert page.header("Content-Type") == "application/atom+xml; charset=utf-8"
        etag = page.header("ETag")
        assert etag and daemon.get("/feeds/archive/off-the-wire/2.atom", {"If-None-Match": etag}).status == 304
        for missing in (
            "/feeds/archive/off-the-wire/9.atom",
            "/feeds/archive/../offthewire.db",
            "/feeds/archive/x/1.atom",
        ):
            assert daemon.get(missing).status == 404, missing
        assert daemon.stop() == 0


def test_many_pages_rendered_by_the_parser_processes_equal_pages_rendered_alone(
    wire: Wire, clock: FakeClock, fetcher: FakeFetcher
) -> None:
    # 60 stories, 2 a page: a first poll closes 30 pages at once, which the parser processes render.
    wire.configure(output={"limit": 2, "archive_pages": 40}, topics=[])
    with aggregator_for(wire.config, clock, fetcher) as aggregator:
        aggregator.add_source(DESK)
        poll(aggregator, fetcher, rss(stories(1, 60)))
        archive = wire.public / "archive" / "off-the-wire"
        pooled = {path.name: path.read_bytes() for path in archive.iterdir()}
        assert len(pooled) == 30
        # A few missing pages are rendered in the main process: the same bytes.
        for name in ("1.atom", "15.atom", "30.atom"):
            (archive / name).unlink()
        aggregator.publish()
    assert {path.name: path.read_bytes() for path in archive.iterdir()} == pooled
    assert walk_back(wire)[1:] == [titles(archive / f"{n}.atom") for n in range(30, 0, -1)]
