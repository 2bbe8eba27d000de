"""The parts of feedparser the fast path uses, gathered here so that it decides as feedparser
decides, and so that a feedparser release that moves one of them is noticed in one place.

Four of them are private names of feedparser 6 (pinned by `tests/parse/test_borrowed.py`, and
pyproject.toml allows feedparser <7 only): `feedparser.datetimes._parse_date` (its date parser),
`feedparser.urls._urljoin` (its URL joining), `feedparser.mixin._FeedParserMixin` (its element
names, namespaces and content types) and `feedparser.html._cp1252` (its windows-1252 repair).
When any is missing, `feedparser_parts()` is None and every document takes the feedparser path.
"""

from __future__ import annotations

import html.entities
import re
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any


class FeedparserParts:
    """The parts of feedparser the fast path uses, so that it decides as feedparser decides."""

    def __init__(self) -> None:
        import feedparser.api
        import feedparser.datetimes
        import feedparser.encodings
        import feedparser.html
        import feedparser.mixin
        import feedparser.sanitizer
        import feedparser.urls
        from lxml import etree

        self.etree: Any = etree
        self.convert_to_utf8: Callable[..., bytes] = feedparser.encodings.convert_to_utf8
        self.replace_doctype: Callable[[bytes], tuple[Any, bytes, Any]] = feedparser.sanitizer.replace_doctype
        self.urljoin: Callable[[str, str], str] = feedparser.urls._urljoin
        self.safe_uri: Callable[..., str] = feedparser.urls.make_safe_absolute_uri
        self.resolve_relative_uris: Callable[[str, str, str, str], str] = feedparser.urls.resolve_relative_uris
        self.parse_date: Callable[[str], Any] = feedparser.datetimes._parse_date
        mixin = feedparser.mixin._FeedParserMixin
        self.looks_like_html: Callable[[str], bool] = mixin.looks_like_html
        self.map_content_type: Callable[[str], str] = mixin.map_content_type
        self.namespaces: dict[str, str] = {uri.lower(): prefix for uri, prefix in mixin.namespaces.items()}
        self.prefixes = frozenset(prefix for prefix in self.namespaces.values() if prefix)
        self.parser_class: type = feedparser.api.StrictFeedParser
        self.cp1252: dict[int, str] = feedparser.html._cp1252
        resolver = feedparser.urls.RelativeURIResolver
        self.normalize_attrs: Callable[[list[tuple[str, str]]], list[tuple[str, str]]] = resolver.normalize_attrs
        self.relative_uris: frozenset[tuple[str, str]] = frozenset(resolver.relative_uris)
        self.no_end_tag: frozenset[str] = frozenset(resolver.elements_no_end_tag)
        self.bare_ampersand: re.Pattern[str] = resolver.bare_ampersand
        self.entities = frozenset(html.entities.name2codepoint) | {"apos"}
        # The markup tokens the resolver may write differently; a lower-case tag without attributes
        # that is not a void element comes out as it went in.
        void = "|".join(sorted(self.no_end_tag))
        self.changing_markup = re.compile(
            r"&#[0-9xX][0-9a-fA-F]*;|&[a-zA-Z][-.a-zA-Z0-9]*;"
            rf"|</?(?:[a-z0-9]*[A-Z][a-zA-Z0-9]*|{void})>|<[a-zA-Z][a-zA-Z0-9]*\s[^<>]*>"
        )
        self.lxml_parsers = threading.local()

    def xml_parser(self) -> Any:
        """A strict lxml parser for this thread (lxml parsers must not be shared between threads)."""
        parser = getattr(self.lxml_parsers, "parser", None)
        if parser is None:
            parser = self.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
            self.lxml_parsers.parser = parser
        return parser

    @lru_cache(maxsize=512)  # noqa: B019 (one instance for the life of the process)
    def has_handler(self, key: str) -> bool:
        return hasattr(self.parser_class, f"_start_{key}") or hasattr(self.parser_class, f"_end_{key}")


@lru_cache(maxsize=1)
def feedparser_parts() -> FeedparserParts | None:
    try:
        return FeedparserParts()
    except (ImportError, AttributeError):  # another feedparser or no lxml: everything takes the feedparser path
        return None
