"""Subscriptions as OPML 2.0; pure. Topics become outline categories ("/world,/sports")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from xml.etree import ElementTree

from aggregator.types import Source


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
