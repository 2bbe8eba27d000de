"""The feedparser internals the fast path borrows (aggregator/parse/borrowed.py) are still there and
still do what the fast path relies on: a feedparser release that moves one fails here first."""

from __future__ import annotations

import time

import feedparser.datetimes
import feedparser.html
import feedparser.mixin
import feedparser.urls

from aggregator.parse.borrowed import feedparser_parts


def test_every_borrowed_part_is_found() -> None:
    assert feedparser_parts() is not None


def test_the_private_names_are_the_ones_borrowed() -> None:
    parts = feedparser_parts()
    assert parts is not None
    assert parts.parse_date is feedparser.datetimes._parse_date
    assert parts.urljoin is feedparser.urls._urljoin
    assert parts.cp1252 is feedparser.html._cp1252
    assert parts.map_content_type == feedparser.mixin._FeedParserMixin.map_content_type


def test_they_behave_as_the_fast_path_expects() -> None:
    parts = feedparser_parts()
    assert parts is not None
    assert parts.parse_date("Sat, 05 Dec 2026 09:00:00 +0100") == time.struct_time((2026, 12, 5, 8, 0, 0, 5, 339, 0))
    assert parts.parse_date("2026-12-05T08:00:00Z") == time.struct_time((2026, 12, 5, 8, 0, 0, 5, 339, 0))
    assert parts.urljoin("https://wire.example/feeds/top.xml", "../story/1") == "https://wire.example/story/1"
    assert "\x80".translate(parts.cp1252) == "\u20ac"
    assert parts.map_content_type("text") == "text/plain"
    assert parts.namespaces["http://www.w3.org/2005/atom"] == ""
