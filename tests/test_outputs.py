"""Integration tests of the published files: what a poll and `publish` write in the output folder.

One module scenario: two outlets (RSS and Atom) carrying sports, energy and shared stories, one
with hostile HTML, polled, republished unchanged, polled unchanged, then polled with news.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from subprocess import CompletedProcess

import feedparser
import pytest
from conftest import Wire, atom, minutes_ago, poll_counts, rss
from feedserver import FeedServer
from lxml import etree, html

RNG = Path(__file__).parent / "data" / "atom.rng"
A = "{http://www.w3.org/2005/Atom}"
TITLE = "Harbour Night Desk"
BASE_URL = "http://wire.example.test/news/"

HOSTILE = (
    '<p onclick="steal()">Opening hours</p><script>alert("x")</script>'
    '<a href="javascript:alert(1)">more</a><img src="https://alpha.example/i.png" onerror="alert(2)">'
    '<a href="https://alpha.example/hours" onmouseover="x()">details</a>'
)
# (guid, title, link, date[, summary]); every headline is distinct enough not to merge by wording.
ALPHA = [
    ("a1", "Marathon record falls on the harbour course", "https://alpha.example/a1", minutes_ago(50)),
    ("a2", "Oil prices jump after surprise output cut", "https://alpha.example/a2", minutes_ago(40)),
    ("a3", "Olympic marathon route passes the oil refinery", "https://alpha.example/a3", minutes_ago(30)),
    ("a4", "Council approves the new harbour tunnel", "https://shared.example/story/tunnel", minutes_ago(20)),
    ("a5", "Library extends its winter opening hours", "https://alpha.example/a5", minutes_ago(10), HOSTILE),
]
BETA = [
    (
        "urn:beta:1",
        "Tunnel vote passes after a long debate",
        "https://shared.example/story/tunnel?utm_source=beta&utm_medium=rss&utm_campaign=wire",
        minutes_ago(15),
    ),
    ("urn:beta:2", "Chess prodigy, 12, wins the national title", "https://beta.example/b2", minutes_ago(5)),
]
LATER = ("urn:beta:3", "Ferry timetable changes for the holidays", "https://beta.example/b3", minutes_ago(1))
# Stories newest first (by first report); the tunnel story is first reported by Alpha at -20 min.
MERGED_ORDER = [BETA[1][1], ALPHA[4][1], ALPHA[3][1], ALPHA[2][1], ALPHA[1][1], ALPHA[0][1]]
TOPIC_ORDER = {
    "sports": [ALPHA[2][1], ALPHA[0][1]],
    "energy": [ALPHA[2][1], ALPHA[1][1]],
    "weather": [],
}


def feed_path(slug: str | None) -> str:
    return "feeds/off-the-wire.atom" if slug is None else f"feeds/topics/{slug}.atom"


@dataclass
class Published:
    wire: Wire
    polls: list[CompletedProcess[str]] = field(default_factory=list)
    publish: CompletedProcess[str] | None = None
    snapshots: dict[str, dict[str, bytes]] = field(default_factory=dict)
    stats: dict[str, dict[str, os.stat_result]] = field(default_factory=dict)
    leftovers: dict[str, list[str]] = field(default_factory=dict)

    def snapshot(self, moment: str) -> None:
        files = sorted(p for p in self.wire.public.rglob("*") if p.is_file())
        self.snapshots[moment] = {str(p.relative_to(self.wire.public)): p.read_bytes() for p in files}
        self.stats[moment] = {str(p.relative_to(self.wire.public)): p.stat() for p in files}
        self.leftovers[moment] = [
            str(p.relative_to(self.wire.public))
            for p in files
            if p.name.startswith(".") or p.suffix not in (".atom", ".rss", ".json")
        ]

    def feed(self, moment: str, slug: str | None = None) -> bytes:
        return self.snapshots[moment]["off-the-wire.atom" if slug is None else f"topics/{slug}.atom"]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    wire = Wire(tmp_path_factory.mktemp("outputs"))
    wire.base_url = BASE_URL
    wire.configure(output={"title": TITLE, "limit": 50})
    run = Published(wire)
    with FeedServer() as server:
        alpha = server.serve("/alpha.xml", rss(ALPHA, title="Alpha Wire", link="https://alpha.example/"))
        beta = server.serve("/beta.atom", atom(BETA, title="Beta Wire", link="https://beta.example/"), etag='"b1"')
        wire.add_many(alpha, beta)
        run.polls.append(wire.run("poll"))
        run.snapshot("polled")
        run.publish = wire.run("publish")
        run.snapshot("republished")
        run.polls.append(wire.run("poll", "--all"))
        run.snapshot("polled-unchanged")
        server.update("/beta.atom", body=atom([*BETA, LATER], title="Beta Wire"), etag='"b2"')
        run.polls.append(wire.run("poll", "--all"))
        run.snapshot("polled-news")
        yield run


def entries_of(document: bytes) -> list[etree._Element]:
    return etree.fromstring(document).findall(f"{A}entry")


def ids_of(document: bytes) -> tuple[str, dict[str, str]]:
    root = etree.fromstring(document)
    feed_id = root.findtext(f"{A}id") or ""
    return feed_id, {e.findtext(f"{A}title") or "": e.findtext(f"{A}id") or "" for e in root.findall(f"{A}entry")}


def html_parts(entry: etree._Element) -> list[str]:
    """The HTML of an entry's summary and content, as a reader would render it."""
    return [element.text or "" for element in entry if element.tag in (f"{A}summary", f"{A}content")]


def test_polls_succeeded(published: Published) -> None:
    first, unchanged, news = (poll_counts(result) for result in published.polls)
    assert first == {"polled": 2, "new": len(ALPHA) + len(BETA), "updated": 0, "not_modified": 0, "failed": 0}
    assert unchanged == {"polled": 2, "new": 0, "updated": 0, "not_modified": 2, "failed": 0}
    assert news == {"polled": 2, "new": 1, "updated": 0, "not_modified": 1, "failed": 0}


def test_merged_and_topic_feeds_exist(published: Published) -> None:
    files = set(published.snapshots["polled"])
    assert {"off-the-wire.atom", "topics/sports.atom", "topics/energy.atom", "topics/weather.atom"} <= files


@pytest.mark.parametrize("slug", [None, "sports", "energy", "weather"])
def test_feed_reparses_with_entries_newest_first(published: Published, slug: str | None) -> None:
    parsed = feedparser.parse(published.feed("polled", slug))

    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    expected = MERGED_ORDER if slug is None else TOPIC_ORDER[slug]
    assert [entry.title for entry in parsed.entries] == expected
    dates = [entry.published_parsed for entry in parsed.entries]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize("slug", [None, "sports", "energy", "weather"])
def test_feed_is_valid_atom(published: Published, slug: str | None) -> None:
    schema = etree.RelaxNG(etree.parse(str(RNG)))
    for moment in ("polled", "polled-news"):
        document = etree.fromstring(published.feed(moment, slug))
        assert schema.validate(document), schema.error_log


@pytest.mark.parametrize("slug", [None, "sports", "weather"])
def test_feed_has_title_self_link_and_updated(published: Published, slug: str | None) -> None:
    root = etree.fromstring(published.feed("polled", slug))

    title = root.findtext(f"{A}title") or ""
    assert title == TITLE if slug is None else title.startswith(TITLE)
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{A}link")}
    assert links["self"] == BASE_URL + feed_path(slug)
    assert root.findtext(f"{A}generator")
    entry_updates = [e.findtext(f"{A}updated") or "" for e in root.findall(f"{A}entry")]
    if entry_updates:
        newest = max(datetime.fromisoformat(u) for u in entry_updates)
        assert datetime.fromisoformat(root.findtext(f"{A}updated") or "") == newest


def test_ids_are_stable_across_publishes_and_polls(published: Published) -> None:
    for slug in (None, "sports", "energy", "weather"):
        first = ids_of(published.feed("polled", slug))
        assert ids_of(published.feed("republished", slug)) == first
        assert ids_of(published.feed("polled-unchanged", slug)) == first
        # News adds an entry; every earlier entry keeps its id, and the feed its id.
        feed_id, entry_ids = ids_of(published.feed("polled-news", slug))
        assert feed_id == first[0]
        assert {title: entry_ids[title] for title in first[1]} == first[1]
    all_ids = list(ids_of(published.feed("polled-news"))[1].values())
    assert len(all_ids) == len(set(all_ids)) == len(MERGED_ORDER) + 1
    assert entries_of(published.feed("polled-news"))[0].findtext(f"{A}title") == LATER[1]


def test_unchanged_feeds_are_not_rewritten(published: Published) -> None:
    assert published.publish is not None and published.publish.returncode == 0, published.publish
    before = published.stats["polled"]
    for moment in ("republished", "polled-unchanged"):
        assert published.snapshots[moment] == published.snapshots["polled"]
        after = published.stats[moment]
        assert {name: (s.st_ino, s.st_mtime_ns) for name, s in after.items()} == {
            name: (s.st_ino, s.st_mtime_ns) for name, s in before.items()
        }
    # News for no topic: the merged feed changes, the topic feeds stay as they were.
    news = published.stats["polled-news"]
    assert published.feed("polled-news") != published.feed("polled")
    for slug in ("sports", "energy", "weather"):
        name = f"topics/{slug}.atom"
        assert (news[name].st_ino, news[name].st_mtime_ns) == (before[name].st_ino, before[name].st_mtime_ns)


def test_no_temporary_files_are_left(published: Published) -> None:
    assert published.leftovers == {moment: [] for moment in published.snapshots}


def test_shared_article_is_one_entry_crediting_the_other_outlet(published: Published) -> None:
    entries = entries_of(published.feed("polled"))
    tunnel = [e for e in entries if "tunnel" in (e.findtext(f"{A}title") or "").lower()]
    assert len(tunnel) == 1
    (entry,) = tunnel
    assert entry.findtext(f"{A}title") == ALPHA[3][1]
    (alternate,) = [link for link in entry.findall(f"{A}link") if link.get("rel", "alternate") == "alternate"]
    assert alternate.get("href") == ALPHA[3][2]
    text = " ".join(html.fromstring(part).text_content() for part in html_parts(entry) if part.strip())
    assert "Also reported by" in text
    assert "Beta Wire" in text
    assert (entry.find(f"{A}source/{A}title").text or "") == "Alpha Wire"


def test_items_join_keyword_topics_and_can_be_in_two(published: Published) -> None:
    for slug, expected in TOPIC_ORDER.items():
        titles = [e.findtext(f"{A}title") for e in entries_of(published.feed("polled", slug))]
        assert titles == expected
        categories = {
            e.findtext(f"{A}title"): {c.get("term") for c in e.findall(f"{A}category")}
            for e in entries_of(published.feed("polled"))
        }
        for title in expected:
            assert slug in categories[title]


def test_html_is_sanitised(published: Published) -> None:
    raw = published.feed("polled").decode("utf-8")
    (library,) = [e for e in entries_of(published.feed("polled")) if e.findtext(f"{A}title") == ALPHA[4][1]]
    parts = html_parts(library)
    assert parts, "the entry lost its summary"
    rendered = " ".join(parts)
    assert "Opening hours" in rendered
    assert "https://alpha.example/hours" in rendered
    for fragment in (rendered.lower(), raw.lower()):
        for bad in ("<script", "&lt;script", "onclick", "onerror", "onmouseover", "javascript:"):
            assert bad not in fragment, bad
    for part in parts:
        for element in html.fromstring(part).iter():
            assert element.tag != "script"
            assert not [name for name in element.attrib if name.lower().startswith("on")]


# Separate installations for the settings that shape the output.


def test_output_limit_keeps_the_newest_entries(wire: Wire, feed_server: FeedServer) -> None:
    wire.configure(output={"limit": 3})
    wire.add(feed_server.serve("/alpha.xml", rss(ALPHA, title="Alpha Wire")))

    assert poll_counts(wire.run("poll"))["new"] == len(ALPHA)

    titles = [e.title for e in feedparser.parse(wire.feed_file().read_bytes()).entries]
    assert titles == [ALPHA[4][1], ALPHA[3][1], ALPHA[2][1]]
    sports = [e.title for e in feedparser.parse(wire.feed_file("sports").read_bytes()).entries]
    assert sports == TOPIC_ORDER["sports"]


def test_item_without_link_is_published(wire: Wire, feed_server: FeedServer) -> None:
    linkless = ("no-link", "Harbour master issues a fog warning", None, minutes_ago(5))
    wire.add(feed_server.serve("/nolink.xml", rss([ALPHA[0], linkless], title="Alpha Wire")))

    result = wire.run("poll")

    assert poll_counts(result)["new"] == 2
    parsed = feedparser.parse(wire.feed_file().read_bytes())
    assert [entry.title for entry in parsed.entries] == [linkless[1], ALPHA[0][1]]
    schema = etree.RelaxNG(etree.parse(str(RNG)))
    assert schema.validate(etree.parse(str(wire.feed_file()))), schema.error_log
