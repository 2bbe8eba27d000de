"""Authors are republished by name only: no e-mail address reaches a stored item or any output.

Every way feeds write an author with an address (Atom <name> and <email>, RSS <author> as
"email (Name)" or "Name (email)", dc:creator as "Name <email>", a bare address, "mailto:") goes
through `parse_feed` (the fast path and the feedparser path alike), then through every published
output (Atom, RSS, JSON Feed, the front page, the ticker and the search page). Authors stored
before parsing dropped addresses lose them when published. A name with "@" that is no address (a
handle such as "@newsdesk", or a fediverse "@jane@social.example") is a name, kept as it is.

The helpers at the bottom (`stories_from`, `published_outputs`) are shared with test_text_constructs.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from conftest import Wire
from feedserver import FeedServer
from lxml import etree

from aggregator.pages import FeedLink, Pages, TopicBlock
from aggregator.parse import parse_feed
from aggregator.parse.fast import fast_parse
from aggregator.parse.feedparser import parse_with_feedparser
from aggregator.publish import (
    MERGED_FEED_FILE,
    MERGED_FEED_PATH,
    FeedContext,
    FeedSpec,
    render_atom,
    render_json_feed,
    render_rss,
)
from aggregator.text import author_name
from aggregator.types import Item, ParsedFeed, Source, Story, Topic

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FEED_URL = "https://desk.example/feed.xml"
INSTALL_ID = "0b7d3b7e-2c4a-4c1e-9d55-0f5b2f7d9a11"
BASE_URL = "http://127.0.0.1:8080/"
SPEC = FeedSpec(MERGED_FEED_PATH, MERGED_FEED_FILE, "Off the wire", "Every wire, one story per entry")
RSS_TYPE = {"content-type": "application/rss+xml; charset=utf-8"}
ATOM_TYPE = {"content-type": "application/atom+xml; charset=utf-8"}
SOURCE = "Wire Desk"
# Every address below is at this domain, which nothing else in the documents uses.
MAIL_DOMAIN = "mail.test"

# (how the item says who wrote it, the name offthewire keeps: None for none)
RSS_AUTHORS = [
    ("<author>desk@mail.test (Example author)</author>", "Example author"),
    ("<author>Example author (desk@mail.test)</author>", "Example author"),
    ("<author>only@mail.test</author>", None),
    ("<author>Kadri Sepp</author>", "Kadri Sepp"),
    ("<dc:creator>John &lt;john@mail.test&gt;</dc:creator>", "John"),
    ("<dc:creator>john@mail.test</dc:creator>", None),
    ("<dc:creator>John (noreply@mail.test)</dc:creator>", "John"),
    ("<dc:creator>mailto:john@mail.test</dc:creator>", None),
    ("<dc:creator>Jane Q. Public</dc:creator>", "Jane Q. Public"),
    ("<dc:creator>Lars Eriksen &amp; Priya Raman</dc:creator>", "Lars Eriksen & Priya Raman"),
    ("<dc:creator>@newsdesk</dc:creator>", "@newsdesk"),
    ("<dc:creator>@jane@social.example</dc:creator>", "@jane@social.example"),
]
ATOM_AUTHORS = [
    ("<author><name>Example author</name><email>me@mail.test</email></author>", "Example author"),
    ("<author><email>me@mail.test</email></author>", None),
    ("<author><name>Example author</name></author>", "Example author"),
    ("<author><name>@newsdesk</name><uri>https://desk.example/</uri></author>", "@newsdesk"),
    ("<author><name>Jane (Reuters)</name><email>jane@mail.test</email></author>", "Jane (Reuters)"),
]


def rss_document(authors: list[str], now: datetime = NOW) -> bytes:
    items = "".join(
        f"<item><title>Report number {n}</title><link>https://desk.example/{n}</link>"
        f'<guid isPermaLink="false">report-{n}</guid>'
        f"<pubDate>{format_datetime(now - timedelta(minutes=n + 1), usegmt=True)}</pubDate>"
        f"<description>Text of report {n}.</description>{author}</item>"
        for n, author in enumerate(authors)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>{SOURCE}</title><link>https://desk.example/</link><description>d</description>"
        f"{items}</channel></rss>"
    ).encode()


def atom_document(authors: list[str]) -> bytes:
    entries = "".join(
        f'<entry><title>Report number {n}</title><link href="https://desk.example/{n}"/>'
        f"<id>tag:desk.example,2026:{n}</id><updated>2026-11-28T0{n % 10}:00:00Z</updated>"
        f'<summary type="html">Text of report {n}.</summary>{author}</entry>'
        for n, author in enumerate(authors)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{SOURCE}</title><id>tag:desk.example,2026:feed</id><updated>2026-11-28T11:00:00Z</updated>"
        f"{entries}</feed>"
    ).encode()


def both_paths(body: bytes, headers: dict[str, str]) -> ParsedFeed:
    """The parse result, after checking that the fast path takes the document and agrees with feedparser."""
    fast = fast_parse(body, headers, FEED_URL, NOW)
    slow = parse_with_feedparser(body, headers, FEED_URL, NOW)
    assert fast is not None, "the fast path refused a plain feed"
    assert fast == slow
    assert parse_feed(body, headers, FEED_URL, NOW) == fast
    return fast


# --- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("element", "expected"), RSS_AUTHORS, ids=[case[0] for case in RSS_AUTHORS])
def test_rss_author_keeps_the_name_only(element: str, expected: str | None) -> None:
    parsed = both_paths(rss_document([element]), RSS_TYPE)
    assert [entry.author for entry in parsed.entries] == [expected]


@pytest.mark.parametrize(("element", "expected"), ATOM_AUTHORS, ids=[case[0] for case in ATOM_AUTHORS])
def test_atom_author_keeps_the_name_only(element: str, expected: str | None) -> None:
    parsed = both_paths(atom_document([element]), ATOM_TYPE)
    assert [entry.author for entry in parsed.entries] == [expected]


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("me@mail.test (Example author)", "Example author"),
        ("Example author (me@mail.test)", "Example author"),
        ("Example author <me@mail.test>", "Example author"),
        ("Example author [me@mail.test]", "Example author"),
        ("Example author - me@mail.test", "Example author"),
        ("me@mail.test", None),
        ("<me@mail.test>", None),
        ("a@mail.test, b@mail.test", None),
        ("John &lt;john@mail.test&gt;", "John"),  # an address that shows only once decoded
        ("evil@mail.test (<script>alert('author')</script>Eve)", "Eve"),
        ("Plain Name", "Plain Name"),
        ("AT&amp;T newsroom", "AT&T newsroom"),
        ("@newsdesk", "@newsdesk"),
        ("@jane@social.example", "@jane@social.example"),
        ("", None),
    ],
)
def test_author_name(author: str, expected: str | None) -> None:
    assert author_name(author) == expected


# --- publishing -----------------------------------------------------------------------------------


def test_no_output_of_parsed_feeds_carries_an_address() -> None:
    stories = []
    for body, headers, cases in (
        (rss_document([e for e, _ in RSS_AUTHORS]), RSS_TYPE, RSS_AUTHORS),
        (atom_document([e for e, _ in ATOM_AUTHORS]), ATOM_TYPE, ATOM_AUTHORS),
    ):
        parsed = both_paths(body, headers)
        assert [entry.author for entry in parsed.entries] == [name for _, name in cases]
        stories += stories_from(parsed, first_id=len(stories) + 1)
    outputs = published_outputs(stories)
    for name, text in outputs.items():
        assert MAIL_DOMAIN not in text, f"an address in the {name}"
    expected = [name or SOURCE for _, name in RSS_AUTHORS + ATOM_AUTHORS]
    assert credited(outputs) == {"atom": expected, "rss": expected, "json": expected}


STORED_AUTHORS = [
    ("Example author (desk@mail.test)", "Example author"),
    ("desk@mail.test", SOURCE),
    ("John <john@mail.test>", "John"),
    ("John (noreply@mail.test)", "John"),
    ("@newsdesk", "@newsdesk"),
    ("Kadri Sepp", "Kadri Sepp"),
    (None, SOURCE),
]


def test_authors_stored_with_an_address_are_published_without_it() -> None:
    """Databases written before parsing dropped addresses still hold them: publishing drops them too."""
    stories = [
        story_of(report(n + 1, f"Stored report {n}", author=author, minutes=n))
        for n, (author, _) in enumerate(STORED_AUTHORS)
    ]
    stories.sort(key=lambda story: story.published, reverse=True)
    outputs = published_outputs(stories)
    for name, text in outputs.items():
        assert MAIL_DOMAIN not in text, f"an address in the {name}"
    names = dict(STORED_AUTHORS)
    expected = [names[story.first.author] for story in stories]
    assert credited(outputs) == {"atom": expected, "rss": expected, "json": expected}


def test_a_poll_stores_and_publishes_no_address(wire: Wire, feed_server: FeedServer) -> None:
    """End to end: `items --json`, `items` and every published file."""
    body = rss_document([e for e, _ in RSS_AUTHORS], now=datetime.now(UTC))
    wire.add(feed_server.serve("/desk.xml", body, content_type=RSS_TYPE["content-type"]))
    wire.ok("poll")
    items = wire.items()
    assert sorted(str(item["author"]) for item in items) == sorted(str(name) for _, name in RSS_AUTHORS)
    texts = {"items --json": json.dumps(items), "items": wire.ok("items", "--limit", "100")}
    files = sorted(path for path in wire.public.rglob("*") if path.is_file())
    assert any(path.suffix == ".rss" for path in files) and any(path.suffix == ".json" for path in files)
    texts.update({str(path): path.read_text(encoding="utf-8") for path in files})
    for name, text in texts.items():
        assert MAIL_DOMAIN not in text, f"an address in {name}"


# --- shared helpers -------------------------------------------------------------------------------


def report(
    item_id: int, title: str, *, author: str | None = None, summary: str = "", content: str = "", minutes: int = 0
) -> Item:
    moment = NOW - timedelta(minutes=minutes)
    return Item(
        id=item_id,
        source_id=1,
        source=SOURCE,
        title=title,
        link=f"https://desk.example/{item_id}",
        summary=summary,
        content=content,
        author=author,
        published=moment,
        updated=moment,
        topics=(),
        story_id=item_id,
        source_url=FEED_URL,
        source_feed_link="https://desk.example/",
    )


def story_of(item: Item) -> Story:
    return Story(
        id=item.id,
        key=f"00000000-0000-4000-8000-{item.id:012d}",
        published=item.published,
        updated=item.updated,
        reports=(item,),
    )


def stories_from(parsed: ParsedFeed, first_id: int = 1) -> list[Story]:
    """The entries of one parsed feed as stored reports, one story each, in the feed's order."""
    return [
        story_of(
            report(
                first_id + n,
                entry.title,
                author=entry.author,
                summary=entry.summary,
                content=entry.content,
                minutes=first_id + n,
            )
        )
        for n, entry in enumerate(parsed.entries)
    ]


def published_outputs(stories: list[Story]) -> dict[str, str]:
    """Every document a person or a reader gets of these stories: the feeds and the HTML pages."""
    context = FeedContext(INSTALL_ID, BASE_URL, {}, NOW)
    pages = Pages()
    topic = Topic("all", "All the news")
    feeds = [FeedLink("Off the wire", BASE_URL + MERGED_FEED_PATH)]
    front = pages.index(
        title="Off the wire",
        base_url=BASE_URL,
        ticker=stories,
        topics=[TopicBlock(topic, BASE_URL + "feeds/topics/all.atom", stories)],
        sources=[Source(id=1, url=FEED_URL, name=SOURCE)],
        feeds=feeds,
        story_count=len(stories),
        updated=NOW,
    )
    return {
        "Atom feed": render_atom(SPEC, stories, context).decode(),
        "RSS feed": render_rss(SPEC, stories, context).decode(),
        "JSON Feed": render_json_feed(SPEC, stories, context).decode(),
        "front page": front,
        "ticker": pages.ticker(title="Off the wire", label="Off the wire", ticker=stories),
        "search page": pages.search(
            title="Off the wire", base_url=BASE_URL, query="report", results=[s.first for s in stories]
        ),
    }


def credited(outputs: dict[str, str]) -> dict[str, list[Any]]:
    """The author each entry of the three feeds credits, in order."""
    atom = etree.fromstring(outputs["Atom feed"].encode())
    rss = etree.fromstring(outputs["RSS feed"].encode())
    atom_ns = "{http://www.w3.org/2005/Atom}"
    return {
        "atom": [entry.findtext(f"{atom_ns}author/{atom_ns}name") for entry in atom.iter(f"{atom_ns}entry")],
        "rss": [item.findtext("{http://purl.org/dc/elements/1.1/}creator") for item in rss.iter("item")],
        "json": [item["authors"][0]["name"] for item in json.loads(outputs["JSON Feed"])["items"]],
    }
