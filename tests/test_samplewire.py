"""The bundled sample wire: date placeholders, and every sample feed parses."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from importlib import resources

import pytest
from lxml import etree

from aggregator.parse import parse_feed
from aggregator.samplewire import render_date_placeholders, sample_feeds

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HEADERS = {"content-type": "application/xml; charset=utf-8"}


def feed_text(file: str) -> str:
    return (resources.files("aggregator.samplewire") / "feeds" / file).read_text(encoding="utf-8")


def root_version(text: str) -> str:
    """The feed format, from the document's root element alone (no feed parser involved)."""
    root = etree.fromstring(text.encode("utf-8"))
    if root.tag == "rss" and root.get("version") == "2.0":
        return "rss20"
    if root.tag == "{http://www.w3.org/2005/Atom}feed":
        return "atom10"
    if root.tag == "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF":
        return "rss10"
    return f"unknown: {root.tag}"


def test_rfc822_placeholder_is_minutes_before_now() -> None:
    rendered = render_date_placeholders("<pubDate>{{rfc822:-35}}</pubDate>", NOW)
    assert rendered == "<pubDate>Sat, 28 Nov 2026 11:25:00 +0000</pubDate>"


def test_iso_placeholder_is_minutes_before_now() -> None:
    rendered = render_date_placeholders("<updated>{{iso:-35}}</updated>", NOW)
    assert rendered == "<updated>2026-11-28T11:25:00Z</updated>"


def test_placeholders_can_point_into_the_future_and_across_days() -> None:
    rendered = render_date_placeholders("{{iso:90}} {{iso:-725}} {{rfc822:0}}", NOW)
    assert rendered == "2026-11-28T13:30:00Z 2026-11-27T23:55:00Z Sat, 28 Nov 2026 12:00:00 +0000"


def test_every_placeholder_in_a_document_is_replaced() -> None:
    text = "<a>{{rfc822:-1}}</a><b>{{iso:-2}}</b><c>{{iso:-2}}</c>"
    rendered = render_date_placeholders(text, NOW)
    assert "{{" not in rendered
    assert rendered.count("2026-11-28T11:58:00Z") == 2


def test_other_braces_are_left_alone() -> None:
    text = "{{unknown:-5}} {{iso:soon}} {iso:-5}"
    assert render_date_placeholders(text, NOW) == text


def test_rfc822_placeholder_names_the_same_instant_for_any_timezone() -> None:
    india = NOW.astimezone(timezone(timedelta(hours=5, minutes=30)))
    rendered = render_date_placeholders("{{rfc822:-35}}", india)
    assert parsedate_to_datetime(rendered) == NOW - timedelta(minutes=35)


def test_iso_placeholder_names_the_same_instant_for_any_timezone() -> None:
    india = NOW.astimezone(timezone(timedelta(hours=5, minutes=30)))
    rendered = render_date_placeholders("{{iso:-35}}", india)
    assert datetime.fromisoformat(rendered) == NOW - timedelta(minutes=35)


@pytest.mark.parametrize("file", [feed.file for feed in sample_feeds()])
def test_sample_feed_renders_and_parses(file: str) -> None:
    text = render_date_placeholders(feed_text(file), NOW)
    assert "{{" not in text
    parsed = parse_feed(text.encode("utf-8"), HEADERS, f"http://127.0.0.1:8765/{file}", NOW)
    assert parsed.warning is None
    assert parsed.meta.version == root_version(text)
    assert parsed.meta.title
    assert len(parsed.entries) >= 5
    assert all(entry.link and entry.title != "(untitled)" for entry in parsed.entries)
    assert sum(entry.published is not None for entry in parsed.entries) >= len(parsed.entries) - 1


def test_sample_wire_has_many_feeds_in_every_format() -> None:
    feeds = sample_feeds()
    versions = Counter(root_version(feed_text(feed.file)) for feed in feeds)
    assert len(feeds) >= 12
    assert set(versions) == {"rss20", "atom10", "rss10"}


def test_sample_wire_manifest_lists_unique_files_with_names() -> None:
    feeds = sample_feeds()
    assert len({feed.file for feed in feeds}) == len(feeds)
    assert all(feed.name.strip() for feed in feeds)
