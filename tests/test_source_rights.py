"""Per-source rights modes: "full", "summary" or "title" decide how much of a source's text every
output carries; a feed's own rights statement travels with its entries as atom:rights."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest
from conftest import Wire, now_utc
from fakes import FakeClock, FakeFetcher, aggregator_for

from aggregator.core import Aggregator
from aggregator.exceptions import ConfigError, NotFoundError

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LONG_TEXT = " ".join(f"Sentence {n} of the full wire report, which its terms forbid republishing." for n in range(40))


def url_of(prefix: str) -> str:
    return f"https://{prefix}.example/feed.xml"


def wire_feed(prefix: str, rights: str, now: datetime = T0) -> bytes:
    """An RSS 2.0 feed with a copyright line and one entry with a long description and full content."""
    published = now - timedelta(minutes=5 + len(prefix))
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>{prefix.title()} Wire</title><link>https://{prefix}.example/</link>
<description>x</description><copyright>{rights}</copyright>
<item><title>{prefix.title()} desk reports a harbour strike in Valmora</title>
<link>https://{prefix}.example/strike</link><guid>urn:{prefix}:1</guid>
<pubDate>{published.strftime("%a, %d %b %Y %H:%M:%S +0000")}</pubDate>
<description>&lt;p&gt;{LONG_TEXT}&lt;/p&gt;</description>
<content:encoded>&lt;p&gt;FULL BODY {prefix}. {LONG_TEXT}&lt;/p&gt;</content:encoded>
</item></channel></rss>""".encode()


def by_source(document: Any) -> dict[str, Any]:
    return {entry.title.split()[0].lower(): entry for entry in document.entries}


@pytest.fixture
def fetcher() -> FakeFetcher:
    return FakeFetcher()


@pytest.fixture
def aggregator(wire: Wire, fetcher: FakeFetcher) -> Iterator[Aggregator]:
    with aggregator_for(wire.config, FakeClock(T0), fetcher) as aggregator:
        yield aggregator


def subscribe(aggregator: Aggregator, fetcher: FakeFetcher, prefix: str, mode: str, now: datetime = T0) -> int:
    fetcher.documents[url_of(prefix)] = wire_feed(prefix, f"Copyright {prefix.title()} Media", now)
    return aggregator.add_source(url_of(prefix), rights=mode).id


def test_each_mode_limits_the_text_in_every_format(wire: Wire, aggregator: Aggregator, fetcher: FakeFetcher) -> None:
    for prefix, mode in (("alpha", "full"), ("bravo", "summary"), ("charlie", "title")):
        subscribe(aggregator, fetcher, prefix, mode)
    assert not aggregator.poll().failed
    assert {s.url.split("/")[2].split(".")[0]: s.rights for s in aggregator.sources()} == {
        "alpha": "full",
        "bravo": "summary",
        "charlie": "title",
    }

    atom = by_source(feedparser.parse((wire.public / "off-the-wire.atom").read_bytes()))
    assert "FULL BODY alpha" in atom["alpha"].content[0].value
    assert "Sentence 39" in atom["alpha"].summary
    assert "content" not in atom["bravo"]
    assert "FULL BODY" not in atom["bravo"].summary
    assert 200 < len(atom["bravo"].summary) <= 310 and atom["bravo"].summary.endswith("…")
    assert "content" not in atom["charlie"]
    assert "Sentence" not in atom["charlie"].summary
    assert atom["charlie"].summary == atom["charlie"].title
    assert atom["alpha"].rights == "Copyright Alpha Media"
    assert atom["charlie"].rights == "Copyright Charlie Media"

    rss = by_source(feedparser.parse((wire.public / "off-the-wire.rss").read_bytes()))
    assert "Sentence 39" in rss["alpha"].summary
    assert "Sentence 39" not in rss["bravo"].summary and "Sentence 1 " in rss["bravo"].summary
    assert "Sentence" not in rss["charlie"].summary

    items = {
        i["title"].split()[0].lower(): i for i in json.loads((wire.public / "off-the-wire.json").read_text())["items"]
    }
    assert "FULL BODY alpha" in items["alpha"]["content_html"]
    assert "FULL BODY" not in items["bravo"]["content_html"] and len(items["bravo"]["content_html"]) < 400
    assert "Sentence" not in items["charlie"]["content_html"]


def test_changing_a_mode_republishes_and_bad_modes_are_refused(
    wire: Wire, aggregator: Aggregator, fetcher: FakeFetcher
) -> None:
    source_id = subscribe(aggregator, fetcher, "alpha", "full")
    assert not aggregator.poll().failed
    assert "FULL BODY" in (wire.public / "off-the-wire.atom").read_text()

    assert aggregator.set_rights(str(source_id), "title").rights == "title"
    aggregator.publish()
    feed = (wire.public / "off-the-wire.atom").read_text()
    assert "FULL BODY" not in feed and "Sentence" not in feed

    with pytest.raises(ConfigError, match="full"):
        aggregator.set_rights(str(source_id), "everything")
    with pytest.raises(ConfigError, match="full"):
        aggregator.add_source("https://x.example/feed", rights="some")
    with pytest.raises(NotFoundError, match="999"):
        aggregator.set_rights("999", "full")
    assert [s.rights for s in aggregator.sources()] == ["title"]


def test_the_rights_command_republishes_and_refuses_bad_modes_and_unknown_sources(wire: Wire) -> None:
    fetcher = FakeFetcher()
    with aggregator_for(wire.config, fetcher=fetcher) as aggregator:
        source_id = subscribe(aggregator, fetcher, "alpha", "full", now_utc())
        assert not aggregator.poll().failed
    assert "FULL BODY" in (wire.public / "off-the-wire.atom").read_text()

    changed = wire.run("rights", str(source_id), "title")
    assert changed.returncode == 0, changed.stderr
    assert "title" in changed.stdout
    feed = (wire.public / "off-the-wire.atom").read_text()
    assert "FULL BODY" not in feed and "Sentence" not in feed

    for args in (("rights", str(source_id), "everything"), ("add", "https://x.example/feed", "--rights", "some")):
        refused = wire.run(*args)
        assert refused.returncode == 2
        assert "invalid choice" in refused.stderr and "full" in refused.stderr
    missing = wire.run("rights", "999", "full")
    assert missing.returncode == 1 and "999" in missing.stderr
    assert [s["rights"] for s in wire.json("list")] == ["title"]
