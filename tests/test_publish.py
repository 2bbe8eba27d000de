"""publish.render_atom: valid Atom 1.0, stable ids, credits for other outlets, escaped titles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
from lxml import etree

from aggregator.publish import (
    MERGED_FEED_FILE,
    MERGED_FEED_PATH,
    FeedContext,
    FeedSpec,
    render_atom,
    topic_feed_file,
    topic_feed_path,
)
from aggregator.types import Item, Story, Topic

ATOM = "{http://www.w3.org/2005/Atom}"
NS = {"a": "http://www.w3.org/2005/Atom"}
RNG = Path(__file__).parent / "data" / "atom.rng"
INSTALL_ID = "0b7d3b7e-2c4a-4c1e-9d55-0f5b2f7d9a11"
BASE_URL = "http://127.0.0.1:8080/"
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
MERGED = FeedSpec(MERGED_FEED_PATH, MERGED_FEED_FILE, "Off the wire", "Every wire, one story per entry")
TOPICS = {"world": Topic("world", "World news"), "china-asia": Topic("china-asia", "China & Asia")}

MERIDIAN, HARBOUR, PACIFIC = (1, "Meridian Wire"), (2, "Harbour Daily"), (3, "Pacific Rim Dispatch")


def item(
    item_id: int,
    outlet: tuple[int, str],
    title: str,
    link: str | None,
    minutes: int = 0,
    summary: str = "<p>Winds of 150 km/h.</p>",
    content: str = "",
) -> Item:
    source_id, name = outlet
    moment = T0 + timedelta(minutes=minutes)
    return Item(
        id=item_id,
        source_id=source_id,
        source=name,
        title=title,
        link=link,
        summary=summary,
        content=content,
        author=None,
        published=moment,
        updated=moment,
        topics=(),
        story_id=0,
        source_url=f"https://outlet{source_id}.example/feed.xml",
        source_feed_link=f"https://outlet{source_id}.example/" if source_id != 3 else None,
    )


def story(story_id: int, key: str, reports: tuple[Item, ...], topics: tuple[str, ...] = ()) -> Story:
    return Story(
        id=story_id,
        key=key,
        published=reports[0].published,
        updated=max(report.updated for report in reports),
        reports=reports,
        topics=topics,
    )


TYPHOON = story(
    1,
    "6f1c2c1e-8b1a-5c8e-9f5e-2a0b6d3c4e5f",
    (
        item(11, MERIDIAN, "Typhoon Senbai makes landfall", "https://meridian.example/typhoon?a=1&b=2"),
        item(12, HARBOUR, "Typhoon hits Fujian coast", "https://harbour.example/typhoon", 10),
        item(13, MERIDIAN, "UPDATE 1-Typhoon Senbai makes landfall", "https://meridian.example/typhoon-2", 20),
        item(14, HARBOUR, "Typhoon Senbai: latest", "https://harbour.example/typhoon-latest", 25),
        item(15, PACIFIC, "Typhoon Senbai comes ashore", None, 40),
    ),
    topics=("world", "china-asia", "weather"),
)
MARKETS = story(
    2,
    "0d3b9a8e-4f7c-5b21-8a6e-7c2d1e0f9a34",
    (item(21, HARBOUR, "Markets rally <script>alert(1)</script> & more", "https://harbour.example/markets", 5),),
    topics=("business",),
)
STORIES = (TYPHOON, MARKETS)


def render(
    stories: tuple[Story, ...] = STORIES,
    spec: FeedSpec = MERGED,
    base_url: str = BASE_URL,
) -> bytes:
    return render_atom(spec, stories, FeedContext(INSTALL_ID, base_url, TOPICS, T0))


def root(document: bytes) -> etree._Element:
    return etree.fromstring(document)


def entry_of(document: bytes, key: str) -> etree._Element:
    (entry,) = root(document).xpath("a:entry[a:id = $id]", namespaces=NS, id=f"urn:uuid:{key}")
    return entry


def assert_valid_atom(document: bytes) -> None:
    schema = etree.RelaxNG(etree.parse(str(RNG)))
    schema.assertValid(root(document))


def test_output_parses_with_feedparser() -> None:
    parsed = feedparser.parse(render())
    assert not parsed.bozo
    assert parsed.version == "atom10"
    assert [entry.title for entry in parsed.entries] == [
        "Typhoon Senbai makes landfall",
        "Markets rally <script>alert(1)</script> & more",
    ]
    assert [entry.link for entry in parsed.entries] == [
        "https://meridian.example/typhoon?a=1&b=2",
        "https://harbour.example/markets",
    ]


def test_output_is_valid_atom() -> None:
    assert_valid_atom(render())


def test_topic_feed_is_valid_atom() -> None:
    spec = FeedSpec(topic_feed_path("world"), topic_feed_file("world"), "World", "World news", topic="world")
    assert_valid_atom(render((TYPHOON,), spec=spec))


def test_empty_feed_is_valid_and_uses_empty_updated() -> None:
    document = render(())
    assert_valid_atom(document)
    assert root(document).findtext(f"{ATOM}updated") == "2026-11-28T09:00:00+00:00"
    assert root(document).findall(f"{ATOM}entry") == []


def test_feed_updated_is_newest_story_updated() -> None:
    assert root(render()).findtext(f"{ATOM}updated") == "2026-11-28T09:40:00+00:00"


def test_feed_id_is_stable_and_independent_of_base_url() -> None:
    first = root(render()).findtext(f"{ATOM}id")
    again = root(render((MARKETS,), base_url="https://news.example.org/")).findtext(f"{ATOM}id")
    assert first is not None
    assert first.startswith("urn:uuid:")
    assert first == again


def test_feed_id_differs_per_feed_path() -> None:
    spec = FeedSpec(topic_feed_path("world"), topic_feed_file("world"), "World", "World news", topic="world")
    assert root(render(spec=spec)).findtext(f"{ATOM}id") != root(render()).findtext(f"{ATOM}id")


def test_entry_ids_are_stable_and_independent_of_base_url() -> None:
    def ids(document: bytes) -> list[str]:
        return [str(text) for text in root(document).xpath("a:entry/a:id/text()", namespaces=NS)]

    expected = [f"urn:uuid:{TYPHOON.key}", f"urn:uuid:{MARKETS.key}"]
    assert ids(render()) == expected
    assert ids(render(base_url="https://news.example.org/")) == expected


def test_self_link_is_base_url_plus_path() -> None:
    spec = FeedSpec(topic_feed_path("world"), topic_feed_file("world"), "World", "World news", topic="world")
    links = root(render(spec=spec, base_url="https://news.example.org/wire/")).xpath(
        "a:link[@rel='self']/@href", namespaces=NS
    )
    assert links == ["https://news.example.org/wire/feeds/topics/world.atom"]


def test_entry_links_to_first_report() -> None:
    entry = entry_of(render(), TYPHOON.key)
    assert entry.xpath("a:link/@href", namespaces=NS) == ["https://meridian.example/typhoon?a=1&b=2"]


def test_categories_one_per_topic() -> None:
    entry = entry_of(render(), TYPHOON.key)
    categories = [(c.get("term"), c.get("label")) for c in entry.findall(f"{ATOM}category")]
    assert categories == [("world", "World news"), ("china-asia", "China & Asia"), ("weather", "weather")]


def test_source_element_names_the_original_feed() -> None:
    entry = entry_of(render(), TYPHOON.key)
    assert entry.findtext(f"{ATOM}source/{ATOM}title") == "Meridian Wire"
    assert entry.xpath("a:source/a:link[@rel='alternate']/@href", namespaces=NS) == ["https://outlet1.example/"]


def test_source_link_falls_back_to_feed_url() -> None:
    lone = story(
        3, "9a7c6b5d-1e2f-5a3b-8c4d-5e6f7a8b9c0d", (item(31, PACIFIC, "Quake felt in Taipei", "https://p.example/q"),)
    )
    entry = entry_of(render((lone,)), lone.key)
    assert entry.xpath("a:source/a:link[@rel='self']/@href", namespaces=NS) == ["https://outlet3.example/feed.xml"]
    assert entry.xpath("a:source/a:link[@rel='alternate']/@href", namespaces=NS) == []


def credits_html(document: bytes, key: str) -> str:
    summary = entry_of(document, key).findtext(f"{ATOM}summary")
    assert summary is not None
    _, marker, credits = str(summary).partition("Also reported by:")
    assert marker, "no credits in the summary"
    return credits


def test_credits_name_each_other_outlet_once_with_its_link() -> None:
    credits = credits_html(render(), TYPHOON.key)
    assert credits.count("Harbour Daily") == 1
    assert '<a href="https://harbour.example/typhoon">Harbour Daily</a>' in credits
    assert "typhoon-latest" not in credits
    assert "Pacific Rim Dispatch" in credits


def test_credits_never_name_the_first_reports_outlet() -> None:
    assert "Meridian" not in credits_html(render(), TYPHOON.key)


def test_single_report_story_has_no_credits() -> None:
    summary = entry_of(render(), MARKETS.key).findtext(f"{ATOM}summary")
    assert summary is not None
    assert "Also reported by" not in summary


def test_credits_escape_outlet_names() -> None:
    outlet = (4, "Rim & <Co>")
    both = story(
        4,
        "1b2c3d4e-5f60-5a7b-8c9d-0e1f2a3b4c5d",
        (item(41, MERIDIAN, "A", "https://a.example/1"), item(42, outlet, "B", "https://b.example/1?x=1&y=2", 5)),
    )
    credits = credits_html(render((both,)), both.key)
    assert '<a href="https://b.example/1?x=1&amp;y=2">Rim &amp; &lt;Co&gt;</a>' in credits


def test_credits_also_follow_content() -> None:
    reports = (
        item(51, MERIDIAN, "Budget passes", "https://meridian.example/budget", content="<p>Full text.</p>"),
        item(52, HARBOUR, "Budget passes", "https://harbour.example/budget", 5),
    )
    with_content = story(5, "2c3d4e5f-6071-5b8c-9dae-1f2a3b4c5d6e", reports)
    content = entry_of(render((with_content,)), with_content.key).findtext(f"{ATOM}content")
    assert content is not None
    assert content.startswith("<p>Full text.</p>")
    assert '<a href="https://harbour.example/budget">Harbour Daily</a>' in content


def test_html_in_title_is_text_not_markup() -> None:
    document = render()
    title = entry_of(document, MARKETS.key).find(f"{ATOM}title")
    assert title is not None
    assert title.text == "Markets rally <script>alert(1)</script> & more"
    assert len(title) == 0
    assert b"<script>" not in document


def test_summary_falls_back_to_escaped_title() -> None:
    bare = story(
        6,
        "3d4e5f60-7182-5c9d-8ebf-2a3b4c5d6e7f",
        (item(61, HARBOUR, "Rates <held>", "https://h.example/r", summary=""),),
    )
    summary = entry_of(render((bare,)), bare.key).findtext(f"{ATOM}summary")
    assert summary == "Rates &lt;held&gt;"


def test_two_renders_are_byte_identical() -> None:
    assert render() == render()


def test_entry_without_link_still_has_content_or_alternate_link() -> None:
    lone = story(7, "4e5f6071-8293-5dae-9fc0-3b4c5d6e7f80", (item(71, PACIFIC, "Bulletin: rates held", None),))
    entry = entry_of(render((lone,)), lone.key)
    has_alternate = bool(entry.xpath("a:link[not(@rel) or @rel='alternate']", namespaces=NS))
    assert has_alternate or entry.find(f"{ATOM}content") is not None
