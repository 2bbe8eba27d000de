"""The fast path of `parse_feed`: well-formed RSS 2.0 and Atom 1.0 read with lxml; pure (no I/O).

`fast_parse` returns exactly the ParsedFeed that the feedparser path (`parse.feedparser.parse_with_feedparser`)
returns for the same bytes, or None ("use feedparser") for any document it is not plainly sure of.
feedparser is the reference: the bytes go through feedparser's own encoding step (so the text is
the text its strict XML parser sees), lxml builds the tree, expat (the parser feedparser uses)
confirms it would parse the same text without complaint, and the tree is read the way
feedparser's handlers read it: the same element names (lower-cased, namespaces mapped to
feedparser's prefixes), the same text clean-up (stripping, relative-URI resolution, the UTF-8 and
windows-1252 repairs), the same date parser, the same rules for which link, id, summary, content,
author and categories an entry ends up with. Both paths then share `parse.shape.normalise`.

Eligibility rules, each a reason to return None (tests/parse/test_fast.py proves the equality on the
test corpus, the benchmark farm and generated documents):

- an empty body, a DOCTYPE in the prolog (`feedparser.doctype_span`): feedparser.without_doctype and
  feedparser rewrite those, and feedparser's lenient parser expands entities expat refused (a
  "<!DOCTYPE" in an item's CDATA is text, and no reason);
- an encoding feedparser had to guess or override, or a Content-Type that is not XML: feedparser
  decodes by its own rules then and reports the problem as a warning;
- not well-formed for lxml (strict: no DTD, no network, no huge trees) or for expat: feedparser
  would fall back to its lenient parser, which reads a different tree;
- a root other than `<rss version="2.0|0.91|0.92">` with one `<channel>`, or an Atom 1.0 `<feed>`;
- namespace declarations that change how feedparser names elements or which version it reports
  (the RSS 1.0 and 0.90 namespaces, a prefix bound twice, a prefix that is one of feedparser's own);
- `xml:base` or any `base` attribute, a plain `lang` attribute, other namespaced attributes on the
  elements read here, attributes on a channel, item, feed or entry other than xml:lang;
- an element feedparser treats specially that is not mirrored here (media:title, itunes:summary,
  Atom `<source>`, ...), also nested inside unknown elements, or an unknown element stored under a
  key feedparser or `normalise` reads;
- xhtml, base64, `src` or non-text content, text-bearing elements with child elements or comments,
  repeated single-valued elements (two titles, two guids, two descriptions, two authors, ...).

Relative URLs are no reason: they are resolved as feedparser resolves them, with its own functions.
HTML in summaries, content and HTML titles goes through feedparser's relative-URI resolver, which
re-serialises it; `resolve_html` gives the resolver's output for the plain HTML news feeds carry
(tags with double-quoted attributes, character and entity references) without running it, and
calls the resolver itself for anything else.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aggregator.parse.borrowed import FeedparserParts, feedparser_parts
from aggregator.parse.feedparser import doctype_span, response_headers_for
from aggregator.parse.shape import MAX_ENTRIES, normalise
from aggregator.types import ParsedFeed

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_NS = "http://www.w3.org/XML/1998/namespace"
_ATOM_FEED = f"{{{ATOM_NS}}}feed"
_RSS_VERSIONS = {"2.0": "rss20", "0.91": "rss091u", "0.92": "rss092"}
# Namespaces that make feedparser report another version (RSS 1.0, RSS 0.90), rename elements
# (any backend.userland.com/rss namespace) or add declarations to attributes (xlink).
_VERSION_NAMESPACES = frozenset({"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"})
_XLINK_NS = "http://www.w3.org/1999/xlink"

# feedparser's sets (mixin.py): elements whose text is a URI, and elements whose HTML is resolved.
_CAN_BE_RELATIVE_URI = frozenset(
    {"comments", "docs", "href", "icon", "id", "link", "logo", "url", "wfw_comment", "wfw_commentrss"}
)
_CAN_CONTAIN_RELATIVE_URIS = frozenset(
    {"content", "copyright", "description", "info", "rights", "subtitle", "summary", "tagline", "title"}
)
_HTML_TYPES = frozenset({"application/xhtml+xml", "text/html"})
_TEXT_TYPES = frozenset({"text/plain", "text/html"})

# Keys feedparser's handlers or `normalise` read or write in a feed or entry dict (and the keys
# FeedParserDict renames): an unknown element stored under one of them would change the result.
_RESERVED_KEYS = frozenset(
    {
        "author",
        "author_detail",
        "authors",
        "category",
        "channel",
        "cloud",
        "content",
        "contributors",
        "copyright",
        "copyright_detail",
        "created",
        "created_parsed",
        "date",
        "date_parsed",
        "description",
        "description_detail",
        "enclosures",
        "entries",
        "expired",
        "expired_parsed",
        "feed",
        "generator",
        "generator_detail",
        "guid",
        "guidislink",
        "href",
        "id",
        "image",
        "issued",
        "issued_parsed",
        "items",
        "language",
        "license",
        "link",
        "links",
        "media_content",
        "media_credit",
        "media_license",
        "media_player",
        "media_rating",
        "media_restriction",
        "media_thumbnail",
        "modified",
        "modified_parsed",
        "publisher",
        "publisher_detail",
        "published",
        "published_parsed",
        "rights",
        "rights_detail",
        "source",
        "subtitle",
        "subtitle_detail",
        "summary",
        "summary_detail",
        "sy_updatefrequency",
        "sy_updateperiod",
        "tagline",
        "tagline_detail",
        "tags",
        "textinput",
        "title",
        "title_detail",
        "ttl",
        "updated",
        "updated_parsed",
        "url",
        "where",
    }
)
# Elements with a feedparser handler whose effects never reach what `normalise` reads (their
# children are checked like any other element's).
_HARMLESS = frozenset(
    {
        "cloud",
        "comments",
        "enclosure",
        "generator",
        "itunes_block",
        "itunes_explicit",
        "itunes_image",
        "media_content",
        "media_credit",
        "media_group",
        "media_license",
        "media_player",
        "media_rating",
        "media_restriction",
        "media_thumbnail",
        "webmaster",
    }
)
# Elements with a handler that are harmless as direct children of one context only, and only without
# children (feedparser would serialise those into their text): a channel's description is its
# subtitle, but an Atom entry's description would be its summary.
_CHANNEL_TEXT = frozenset(
    {"description", "pubdate", "category", "source", "subtitle", "managingeditor", "dc_creator", "dc_subject"}
)
_ITEM_TEXT = frozenset({"language", "source", "subtitle", "rights"})
_FEED_TEXT = frozenset({"subtitle", "category", "published"})
_ENTRY_TEXT = frozenset({"rights", "language"})
_IMAGE_CHILDREN = frozenset({"url", "title", "link", "width", "height", "description"})
_TEXTINPUT_CHILDREN = frozenset({"title", "description", "name", "link"})
_PERSON_CHILDREN = frozenset({"name", "email", "uri"})

# feedparser's link clean-up (mixin.py, pop): "&name;" left by double-escaping loses its ";".
_LINK_REFERENCE = re.compile("&([A-Za-z0-9_]+);")

# What feedparser's relative-URI resolver (an sgmllib HTML processor) does before tokenising.
_RESOLVER_DECLARATION = re.compile(r"<!((?!DOCTYPE|--|\[))", re.IGNORECASE)
_RESOLVER_SHORT_TAG = re.compile(r"<([^<>\s]+?)\s*/>")
# The markup `resolve_html` rewrites itself (between text without "<" or "&"): references, plain
# end tags, start tags whose attributes are all double-quoted. Anything else goes to the resolver.
_HTML_MARKUP = re.compile(
    r"&#([0-9]+|[xX][0-9a-fA-F]+);"
    r"|&([a-zA-Z][-.a-zA-Z0-9]*);"
    r"|</([a-zA-Z][a-zA-Z0-9]*)>"
    r'|<([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z_][-:.a-zA-Z_0-9]*="[^"<>]*")*)\s*/?>'
)
# An absolute http(s) URL that urllib's urljoin (hence feedparser's `_urljoin` and
# `make_safe_absolute_uri`) returns unchanged whatever the base: a lower-case scheme, a plain host,
# no whitespace, no ";" (path parameters), no "#", no empty query.
_PLAIN_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[A-Za-z0-9._~!$&'()*+,=:@%/-]*)?(?:\?[A-Za-z0-9._~!$&'()*+,=:@%/?-]+)?"
)
# A tag: or urn: URI (a typical Atom id): urljoin returns a URI whose scheme is not a relative one
# unchanged, and feedparser's slash repair needs "://".
_OPAQUE_URI = re.compile(r"(?:tag|urn):(?!/)\S*")
_HTML_ATTRIBUTE = re.compile(r'\s+([a-zA-Z_][-:.a-zA-Z_0-9]*)="([^"<>]*)"')
_ATTRIBUTE_REFERENCE = re.compile("&(?:([a-zA-Z][-.a-zA-Z0-9]*)|#([0-9]+))(;?)")


class _Decline(Exception):
    """The document is not plainly eligible for the fast path."""


def fast_parse(
    body: bytes, headers: dict[str, str], url: str, now: datetime, max_entries: int = MAX_ENTRIES
) -> ParsedFeed | None:
    """The ParsedFeed `parse_with_feedparser` gives for these bytes, or None when the document is
    not plainly a well-formed RSS 2.0 or Atom 1.0 feed (then feedparser decides)."""
    tools = feedparser_parts()
    if tools is None or not body:
        return None
    try:
        return _Reader(tools, body, headers, url).parsed(now, max_entries)
    except _Decline:
        return None


class _Reader:
    """One document read as feedparser's strict parser reads it."""

    def __init__(self, tools: FeedparserParts, body: bytes, headers: dict[str, str], url: str) -> None:
        self.tools = tools
        self.body = body
        self.url = url
        response_headers = response_headers_for(headers, url)
        self.root = self._parse(response_headers)
        location = response_headers.get("content-location", "")
        base = tools.safe_uri("", location) or tools.safe_uri(location) or ""
        # feedparser re-derives the base at every start tag; it must settle at once to be one base.
        settled = self._next_base(self._next_base(base))
        if settled != self._next_base(base):
            raise _Decline
        self.base = settled
        language = response_headers.get("content-language")
        self.language: str | None = language
        self.atom = False
        self.feed: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.markup: dict[str, str] = {}  # HTML tags and references as the resolver rewrites them
        self.keys: dict[str, str] = {}  # element tags in known namespaces, and their feedparser names
        if language:
            self.feed["language"] = language.replace("_", "-")

    def _next_base(self, base: str) -> str:
        if base:
            return self.tools.safe_uri(base, base) or base
        return self.tools.urljoin(base, base)

    def _parse(self, response_headers: dict[str, str]) -> Any:
        tools = self.tools
        if doctype_span(self.body) is not None:
            raise _Decline
        result: dict[str, Any] = {}
        try:
            data = tools.convert_to_utf8(dict(response_headers), self.body, result)
            version, rewritten, _ = tools.replace_doctype(data)
        except Exception as exc:  # feedparser's own failure: its path reports it
            raise _Decline from exc
        if result.get("bozo") or not result.get("encoding") or version or rewritten != data:
            raise _Decline
        try:
            root = tools.etree.fromstring(data, tools.xml_parser())
        except (tools.etree.LxmlError, ValueError) as exc:
            raise _Decline from exc
        if root.getroottree().docinfo.doctype:
            raise _Decline
        _expat_accepts(data)
        return root

    # The document

    def parsed(self, now: datetime, max_entries: int) -> ParsedFeed:
        root = self.root
        self._check_namespaces(root)
        lang = self._lang(root, self.language)
        if lang:
            self.feed["language"] = lang.replace("_", "-")
        if root.tag == "rss":
            version = _RSS_VERSIONS.get(self._attributes(root, interpreted=True).get("version", ""))
            if version is None:
                raise _Decline
            channels = list(_children(root))
            if len(channels) != 1 or self._key(channels[0]) != "channel":
                raise _Decline
            self._only_language(channels[0])
            self._rss_channel(channels[0], self._lang(channels[0], lang))
        elif root.tag == _ATOM_FEED:
            version = "atom10"
            self.atom = True
            self._only_language(root)
            self._atom_feed(root, lang)
        else:
            raise _Decline
        return normalise(self.body, self.url, now, version, self.feed, self.entries, None, max_entries)

    def _check_namespaces(self, root: Any) -> None:
        tools = self.tools
        bound: dict[str, set[str]] = {}
        unknown: dict[str, set[str]] = {}
        for _, (prefix, uri) in tools.etree.iterwalk(root, events=("start-ns",)):
            if not uri:
                continue
            lowered = uri.lower()
            if lowered in _VERSION_NAMESPACES or "backend.userland.com/rss" in lowered or uri == _XLINK_NS:
                raise _Decline
            if prefix != prefix.lower():
                raise _Decline
            bound.setdefault(prefix, set()).add(uri)
            known = tools.namespaces.get(lowered)
            if known is None:
                unknown.setdefault(uri, set()).add(prefix)
                if prefix in tools.prefixes:
                    raise _Decline
            elif prefix and prefix != known and prefix in tools.prefixes:
                raise _Decline
        if any(len(uris) > 1 for uris in bound.values()) or any(len(p) > 1 for p in unknown.values()):
            raise _Decline

    def _key(self, element: Any) -> str:
        """The name feedparser gives an element's handler (`dc_creator`, `title`, `media_content`)."""
        tag: str = element.tag
        key = self.keys.get(tag)
        if key is not None:
            return key
        if tag[0] != "{":
            key = self.keys[tag] = tag.lower()
            return key
        namespace, local = tag[1:].split("}", 1)
        prefix = self.tools.namespaces.get(namespace.lower())
        if prefix is None:  # a namespace feedparser does not know: it uses the document's prefix
            return f"{element.prefix.lower()}_{local.lower()}" if element.prefix else local.lower()
        key = self.keys[tag] = f"{prefix}_{local.lower()}" if prefix else local.lower()
        return key

    def _attributes(self, element: Any, interpreted: bool) -> dict[str, str]:
        """The attributes as feedparser's handlers see them: lower-case names, `rel` and `type`
        values lower-cased, a namespaced attribute also under its bare name."""
        items = element.items()
        if not items:
            return {}
        found: dict[str, str] = {}
        for name, value in items:
            if name[0] == "{":
                namespace, local = name[1:].split("}", 1)
                lowered = local.lower()
                if namespace == XML_NS and local == "lang":
                    found["xml:lang"] = found["lang"] = value
                    continue
                if interpreted or lowered in ("base", "lang"):
                    raise _Decline
                key = lowered
            else:
                key = name.lower()
                if key in ("base", "lang") or key in found:
                    raise _Decline
            found[key] = value.lower() if key in ("rel", "type") else value
        return found

    def _only_language(self, element: Any) -> None:
        """A feed, channel or entry may carry xml:lang; feedparser reads other attributes of these
        (RDF ids, CDF dates and links) in ways not mirrored here."""
        if not set(self._attributes(element, interpreted=True)) <= {"xml:lang", "lang"}:
            raise _Decline

    def _lang(self, element: Any, inherited: str | None) -> str | None:
        value = element.get(f"{{{XML_NS}}}lang")
        if value is None:
            return inherited
        return value or None

    # Text as feedparser's `pop` leaves it

    def _plain(self, element: Any, name: str) -> str:
        """A simple element's text as feedparser keeps it (after checking its attributes)."""
        self._attributes(element, interpreted=True)
        return self._text(name, _leaf_text(element))[0]

    def _text(
        self, element: str, raw: str, content_type: str | None = None, guid_is_link: bool = False
    ) -> tuple[str, str | None]:
        tools = self.tools
        output = raw.strip()
        if output and element in _CAN_BE_RELATIVE_URI and (element != "id" or guid_is_link):
            output = join_url(tools, self.base, output)
        if not self.atom and content_type == "text/plain" and tools.looks_like_html(output):
            content_type = "text/html"
        if element in _CAN_CONTAIN_RELATIVE_URIS:
            kind = tools.map_content_type(content_type or "text/html")
            if kind == "application/xhtml+xml":
                raise _Decline
            if kind == "text/html":
                output = self._resolve_html(output)
        if output.isascii():  # the two repairs below change only non-ASCII text
            return output, content_type
        # feedparser's repair of UTF-8 read as Latin-1 ("Ã©" becomes "é"), then of C1 controls
        # that were meant as windows-1252 characters.
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            output = output.encode("iso-8859-1").decode("utf-8")
        return output.translate(tools.cp1252), content_type

    def _content_type(self, attributes: dict[str, str], default: str) -> str:
        if "mode" in attributes or "src" in attributes:
            raise _Decline
        kind = self.tools.map_content_type(attributes.get("type", default))
        if kind not in _TEXT_TYPES:
            raise _Decline
        return kind

    def _resolve_html(self, markup: str) -> str:
        return resolve_html(self.tools, markup, self.base, self.markup)

    def _dated(self, entry: dict[str, Any], element: Any, key: str) -> None:
        """feedparser's `published` or `updated`: the text, and the time it parsed from it."""
        text = entry[key] = self._plain(element, key)
        entry[f"{key}_parsed"] = self._date(text)

    def _date(self, text: str) -> Any:
        try:
            return self.tools.parse_date(text)
        except Exception as exc:  # feedparser's own failure: its path reports it
            raise _Decline from exc

    # RSS

    def _rss_channel(self, channel: Any, lang: str | None) -> None:
        feed = self.feed
        seen: set[str] = set()
        for element in _children(channel):
            key = self._key(element)
            if key in ("title", "language", "copyright", "ttl", "sy_updateperiod", "sy_updatefrequency"):
                _once(seen, key)
            elif key in ("lastbuilddate", "dc_date"):
                _once(seen, "updated")
            if key == "item":
                self._rss_item(element, self._lang(element, lang))
            elif key == "title":
                self._title(feed, element, lang, "text/plain")
            elif key == "link":
                self._link(feed, element, seen, entry=False)
            elif key == "copyright":
                self._rights(feed, element)
            elif key in ("lastbuilddate", "dc_date"):
                feed["updated_parsed"] = self._date(self._plain(element, "updated"))
            elif key == "language":
                feed["language"] = self._plain(element, "language")
            elif key in ("ttl", "sy_updateperiod", "sy_updatefrequency"):
                if element.attrib:  # feedparser would store the attributes instead of the text
                    raise _Decline
                feed[key] = self._text(key, _leaf_text(element))[0]
            elif key == "image":
                self._children_of(element, _IMAGE_CHILDREN)
            elif key == "textinput":
                self._children_of(element, _TEXTINPUT_CHILDREN)
            else:
                self._other(element, key, _CHANNEL_TEXT)

    def _rights(self, feed: dict[str, Any], element: Any) -> None:
        """RSS `copyright` or Atom `rights`, as feedparser stores either."""
        attributes = self._attributes(element, interpreted=True)
        text, kind = self._text("rights", _leaf_text(element), self._content_type(attributes, "text/plain"))
        feed["rights"] = text
        feed["rights_detail"] = {"type": kind, "value": text}

    def _rss_item(self, item: Any, lang: str | None) -> None:
        self._only_language(item)
        entry: dict[str, Any] = {}
        seen: set[str] = set()
        state = _EntryState()
        for element in _children(item):
            key = self._key(element)
            if key in ("title", "guid", "description", "content_encoded", "pubdate", "dc_date"):
                _once(seen, key)
            if key in ("author", "dc_creator"):
                _once(seen, "author")
            if key == "title":
                self._title(entry, element, self._lang(element, lang), "text/plain")
            elif key == "link":
                self._link(entry, element, seen, entry=True)
            elif key == "guid":
                self._guid(entry, element)
            elif key == "description":
                self._summary(entry, element, "description", "text/html", state)
            elif key == "content_encoded":
                self._content(entry, element, "text/html", state)
            elif key == "pubdate":
                self._dated(entry, element, "published")
            elif key == "dc_date":
                self._dated(entry, element, "updated")
            elif key in ("author", "dc_creator"):
                entry["author"] = self._plain(element, "author")
            elif key in ("category", "dc_subject"):
                self._category(entry, element)
            else:
                self._other(element, key, _ITEM_TEXT)
        self.entries.append(entry)

    # Atom

    def _atom_feed(self, root: Any, lang: str | None) -> None:
        feed = self.feed
        seen: set[str] = set()
        for element in _children(root):
            key = self._key(element)
            if key in ("title", "id", "updated", "rights"):
                _once(seen, key)
            if key == "entry":
                self._atom_entry(element, self._lang(element, lang))
            elif key == "title":
                self._title(feed, element, self._lang(element, lang), "text/plain")
            elif key == "id":
                self._guid(feed, element)
            elif key == "link":
                self._link(feed, element, seen, entry=False)
            elif key == "updated":
                feed["updated_parsed"] = self._date(self._plain(element, "updated"))
            elif key == "rights":
                self._rights(feed, element)
            elif key in ("author", "contributor"):
                self._children_of(element, _PERSON_CHILDREN)
            else:
                self._other(element, key, _FEED_TEXT)

    def _atom_entry(self, item: Any, lang: str | None) -> None:
        self._only_language(item)
        entry: dict[str, Any] = {}
        seen: set[str] = set()
        state = _EntryState()
        for element in _children(item):
            key = self._key(element)
            if key in ("title", "id", "summary", "content", "published", "updated", "author"):
                _once(seen, key)
            if key == "title":
                self._title(entry, element, self._lang(element, lang), "text/plain")
            elif key == "id":
                self._guid(entry, element)
            elif key == "link":
                self._link(entry, element, seen, entry=True)
            elif key == "summary":
                self._summary(entry, element, "summary", "text/plain", state)
            elif key == "content":
                self._content(entry, element, "text/plain", state)
            elif key in ("published", "updated"):
                self._dated(entry, element, key)
            elif key == "author":
                self._atom_author(entry, element)
            elif key == "category":
                self._category(entry, element)
            elif key == "contributor":
                self._children_of(element, _PERSON_CHILDREN)
            else:
                self._other(element, key, _ENTRY_TEXT)
        self.entries.append(entry)

    def _atom_author(self, entry: dict[str, Any], element: Any) -> None:
        """feedparser's `_start_author`, `_save_author` and `_sync_author_detail` for one author."""
        self._attributes(element, interpreted=True)
        detail: dict[str, str] = {}
        text = element.text or ""
        for child in element:
            text += child.tail or ""
            if not isinstance(child.tag, str):
                continue
            key = self._key(child)
            if key not in _PERSON_CHILDREN or key in detail:
                raise _Decline
            self._attributes(child, interpreted=True)
            value = _leaf_text(child)
            detail[key] = value.strip() if key != "uri" else value
        name, email = detail.get("name"), detail.get("email")
        author = self._text("author", text)[0]
        if name and email:
            author = f"{name} ({email})"
        elif name or email:
            author = name or email or ""
        entry["author"] = author

    # Fields shared by RSS and Atom

    def _title(self, target: dict[str, Any], element: Any, lang: str | None, default: str) -> None:
        attributes = self._attributes(element, interpreted=True)
        text, kind = self._text("title", _leaf_text(element), self._content_type(attributes, default))
        target["title"] = text
        target["title_detail"] = {"type": kind, "language": lang.replace("_", "-") if lang else lang, "value": text}

    def _link(self, target: dict[str, Any], element: Any, seen: set[str], entry: bool) -> None:
        """feedparser's `_start_link`: an alternate HTML link sets `link` (the last one wins); a link
        without href is text, and only one of those is read."""
        attributes = self._attributes(element, interpreted=True)
        rel = attributes.setdefault("rel", "alternate")
        attributes.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
        href = attributes.get("url", attributes.get("uri", attributes.get("href")))
        if href:
            attributes["href"] = href
        if "href" in attributes:
            _leaf_text(element)
            if rel == "alternate" and self.tools.map_content_type(attributes["type"]) in _HTML_TYPES:
                target["link"] = join_url(self.tools, self.base, attributes["href"])
            return
        _once(seen, "link")
        text = self._text("link", _leaf_text(element))[0]
        if entry:
            text = _LINK_REFERENCE.sub(r"&\g<1>", text.replace("&amp;", "&"))
        else:
            text = _LINK_REFERENCE.sub(r"&\g<1>", text)
        target["link"] = text

    def _guid(self, target: dict[str, Any], element: Any) -> None:
        """feedparser's `_start_guid`/`_end_guid` (Atom's `<id>` too): a permalink id is resolved
        and becomes the link when there is none yet."""
        attributes = self._attributes(element, interpreted=True)
        is_link = attributes.get("ispermalink", "true") == "true"
        value = self._text("id", _leaf_text(element), guid_is_link=is_link)[0]
        target["id"] = value
        target.setdefault("guidislink", is_link and "link" not in target)
        if is_link:
            target.setdefault("link", value)

    def _summary(self, entry: dict[str, Any], element: Any, name: str, default: str, state: _EntryState) -> None:
        if "summary" in entry and not state.has_content:
            raise _Decline  # feedparser would read this one as content
        attributes = self._attributes(element, interpreted=True)
        text, kind = self._text(name, _leaf_text(element), self._content_type(attributes, default))
        entry["summary"] = text
        # The summary's type (normalise escapes Atom text); a content copied into the summary sets none.
        entry["summary_detail"] = {"type": kind, "value": text}

    def _content(self, entry: dict[str, Any], element: Any, default: str, state: _EntryState) -> None:
        state.has_content = True
        attributes = self._attributes(element, interpreted=True)
        value, kind = self._text("content", _leaf_text(element), self._content_type(attributes, default))
        entry.setdefault("content", []).append({"type": kind, "value": value})
        entry.setdefault("summary", value)

    def _category(self, entry: dict[str, Any], element: Any) -> None:
        """feedparser's `_start_category`/`_end_category`: term, scheme (or RSS domain) and label
        from the attributes, the text as the term."""
        attributes = self._attributes(element, interpreted=True)
        tags: list[dict[str, Any]] = entry.setdefault("tags", [])
        _add_tag(
            tags, attributes.get("term"), attributes.get("scheme", attributes.get("domain")), attributes.get("label")
        )
        value = self._text("category", _leaf_text(element))[0]
        if not value:
            return
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            _add_tag(tags, value, None, None)

    # Everything else

    def _children_of(self, element: Any, allowed: frozenset[str]) -> None:
        """A container whose children feedparser stores somewhere `normalise` never reads."""
        self._attributes(element, interpreted=True)
        for child in _children(element):
            if self._key(child) not in allowed:
                raise _Decline
            self._attributes(child, interpreted=True)
            _leaf_text(child)

    def _other(self, element: Any, key: str, harmless_text: frozenset[str] = frozenset()) -> None:
        """An element not read here: fine when feedparser would store it under a key nobody reads."""
        if key in harmless_text:
            self._attributes(element, interpreted=True)
            _leaf_text(element)
            return
        if key in _HARMLESS:
            self._attributes(element, interpreted=True)
        elif key in _RESERVED_KEYS or self.tools.has_handler(key):
            raise _Decline
        else:
            self._attributes(element, interpreted=False)
        for child in _children(element):
            self._other(child, self._key(child))


class _EntryState:
    """What feedparser remembers while it reads one entry."""

    __slots__ = ("has_content",)

    def __init__(self) -> None:
        self.has_content = False


def _children(element: Any) -> Iterable[Any]:
    return (child for child in element if isinstance(child.tag, str))


def _leaf_text(element: Any) -> str:
    """The text of an element that must have no children (not even a comment)."""
    if len(element):
        raise _Decline
    text: str | None = element.text
    return text or ""


def _once(seen: set[str], key: str) -> None:
    if key in seen:
        raise _Decline  # a repeated single-valued element: feedparser's choice between them is not mirrored
    if key:
        seen.add(key)


def _add_tag(tags: list[dict[str, Any]], term: str | None, scheme: str | None, label: str | None) -> None:
    if not term and not scheme and not label:
        return
    tag = {"term": term, "scheme": scheme, "label": label}
    if tag not in tags:
        tags.append(tag)


def _expat_accepts(data: bytes) -> None:
    """expat, with namespaces as feedparser's SAX reader sets it up, must accept the text too."""
    from xml.parsers import expat

    parser = expat.ParserCreate(None, " ")
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise _Decline from exc


def join_url(tools: FeedparserParts, base: str, uri: str) -> str:
    """feedparser's `_urljoin(base, uri)`, without urllib for a plain absolute URL."""
    if _PLAIN_URL.fullmatch(uri) or _OPAQUE_URI.fullmatch(uri):
        return uri
    return tools.urljoin(base, uri)


def resolve_html(tools: FeedparserParts, markup: str, base: str, cache: dict[str, str] | None = None) -> str:
    """What feedparser's `resolve_relative_uris(markup, base, "utf-8", "text/html")` returns.

    The resolver re-serialises HTML: attributes sorted and double-quoted, references in
    attributes completed, void elements self-closed, windows-1252 character references remapped.
    For HTML made of text, references and tags with double-quoted attributes this does the same
    thing directly (`cache` keeps what each tag and reference became, for one base); anything
    else (comments, declarations, unquoted attributes, a stray "<" or "&") goes to the resolver.
    """
    if "<" not in markup and "&" not in markup:
        return markup
    data = _RESOLVER_DECLARATION.sub(r"&lt;!\1", markup) if "<!" in markup else markup
    if "/>" in data:
        data = _RESOLVER_SHORT_TAG.sub(lambda match: _short_tag(tools, match.group(1)), data)
    data = data.replace("&#39;", "'").replace("&#34;", '"')
    rest = _HTML_MARKUP.sub("", data)
    if "<" in rest or "&" in rest:
        try:
            return tools.resolve_relative_uris(markup, base, "utf-8", "text/html")
        except Exception as exc:  # feedparser's own failure: its path reports it
            raise _Decline from exc
    written = {} if cache is None else cache

    def rewrite(token: re.Match[str]) -> str:
        source = token.group(0)
        found = written.get(source)
        if found is None:
            # A changing token is one of the tokens the check above found, so this matches.
            parts = _HTML_MARKUP.fullmatch(source)
            if parts is None:
                raise _Decline
            found = written[source] = _rewrite(tools, parts, base)
        return found

    return tools.changing_markup.sub(rewrite, data)


def _rewrite(tools: FeedparserParts, token: re.Match[str], base: str) -> str:
    charref, entity, end_tag, start_tag, attributes = token.groups()
    if charref is not None:
        ref = charref.lower()
        value = int(ref[1:], 16) if ref.startswith("x") else int(ref)
        return f"&#{hex(ord(tools.cp1252[value]))[1:]};" if value in tools.cp1252 else f"&#{ref};"
    if entity is not None:
        return f"&{entity};" if entity in tools.entities else f"&amp;{entity}"
    if end_tag is not None:
        tag = end_tag.lower()
        return "" if tag in tools.no_end_tag else f"</{tag}>"
    return _start_tag(tools, start_tag.lower(), attributes, base)


def _short_tag(tools: FeedparserParts, tag: str) -> str:
    return f"<{tag} />" if tag in tools.no_end_tag else f"<{tag}></{tag}>"


def _start_tag(tools: FeedparserParts, tag: str, attributes: str, base: str) -> str:
    parsed = [
        (name.lower(), _ATTRIBUTE_REFERENCE.sub(_attribute_reference, value))
        for name, value in _HTML_ATTRIBUTE.findall(attributes)
    ]
    written = []
    for name, value in tools.normalize_attrs(parsed):
        if (tag, name) in tools.relative_uris:
            value = value if _PLAIN_URL.fullmatch(value) else tools.safe_uri(base, value.strip()) or value
        value = value.replace(">", "&gt;").replace("<", "&lt;").replace('"', "&quot;")
        written.append(f' {name}="{tools.bare_ampersand.sub("&amp;", value)}"')
    closing = " />" if tag in tools.no_end_tag else ">"
    return f"<{tag}{''.join(written)}{closing}"


def _attribute_reference(match: re.Match[str]) -> str:
    name, number, semicolon = match.groups()
    if number:
        return f"&#{number};"
    return f"&{name};" if semicolon else f"&{name}"
