"""Subscription lists as OPML; pure.

Written as OPML 2.0 with topics as outline categories ("/world,/sports"). Read from OPML 1.0 or
2.0, outlines nested to any depth: an outline with an xmlUrl is a feed; the folders above it and
its own category attribute name its topics.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.etree import ElementTree

from aggregator.config import SLUG_PATTERN
from aggregator.exceptions import ConfigError
from aggregator.types import Source

MAX_DEPTH = 32


@dataclass(frozen=True)
class OpmlFeed:
    """One feed outline: its URL, its title and the topics its folders and categories name."""

    url: str
    title: str | None
    topics: tuple[str, ...]


def parse_opml(data: bytes, name: str) -> list[OpmlFeed]:
    """Every feed outline in an OPML document; `name` (the file) is for error messages."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ConfigError(f"{name} is not a valid OPML file: {exc}.") from exc
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise ConfigError(f"{name} is not an OPML file (no <opml> with a <body>).")
    feeds: list[OpmlFeed] = []
    _walk(body, (), feeds, 0)
    return feeds


def _walk(element: ElementTree.Element, folders: tuple[str, ...], feeds: list[OpmlFeed], depth: int) -> None:
    if depth > MAX_DEPTH:
        return
    for outline in element.findall("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        title = (outline.get("title") or outline.get("text") or "").strip() or None
        if url:
            categories = [c.strip().strip("/") for c in (outline.get("category") or "").split(",")]
            topics = [slugify(t) for t in (*folders, *(c.split("/")[-1] for c in categories if c))]
            feeds.append(OpmlFeed(url, title, tuple(dict.fromkeys(t for t in topics if t))))
        _walk(outline, (*folders, title) if not url and title else folders, feeds, depth + 1)


def slugify(text: str | None) -> str:
    """A folder or category name as a topic slug ("China & Asia" -> "china-asia"); "" if none."""
    slug = re.sub(r"[^a-z0-9]+", "-", (text or "").casefold()).strip("-")[:64]
    return slug if SLUG_PATTERN.match(slug) else ""


def render_opml(sources: Sequence[Source], title: str, created: datetime) -> bytes:
    """An OPML 2.0 document listing every source, with its topics as categories."""
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    ElementTree.SubElement(head, "dateCreated").text = format_datetime(created)
    body = ElementTree.SubElement(root, "body")
    for source in sources:
        attributes = {"type": "rss", "text": source.display_name, "title": source.display_name, "xmlUrl": source.url}
        if source.feed_link:
            attributes["htmlUrl"] = source.feed_link
        if source.topics:
            attributes["category"] = ",".join(f"/{topic}" for topic in source.topics)
        ElementTree.SubElement(body, "outline", attributes)
    ElementTree.indent(root)
    document: bytes = ElementTree.tostring(root, encoding="utf-8")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + document + b"\n"
