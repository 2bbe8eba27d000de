"""The feedparser path: any document feedparser can read, given bytes only, never a URL or a path.

Its own sanitiser is off (`text.sanitise_html` cleans HTML in `shape.normalise`). The DOCTYPE is
removed from the prolog first: feeds need none, and an internal subset's entities are how a
document blows up when expanded (feedparser's lenient fallback expands what expat refused).

Bozo policy: a document feedparser could not make into a feed (no version and no entries) is a
ParseError; a feed with entries despite a problem (bad encoding declaration, a stray character)
is kept and the problem returned as a warning.
"""

from __future__ import annotations

import re
from datetime import datetime

from aggregator.exceptions import ParseError
from aggregator.parse.shape import MAX_ENTRIES, normalise
from aggregator.types import ParsedFeed

# What may come before a DOCTYPE: whitespace, comments and processing instructions (the XML
# declaration is one). The first start tag ends the prolog; other stray bytes are skipped.
_PROLOG_MARKUP = re.compile(rb"<(?:!--|\?|!doctype|[A-Za-z_:\x80-\xff])", re.IGNORECASE)

# Inside a DOCTYPE, a ">" or "]" in a quoted literal, a comment or a processing instruction ends nothing.
_DOCTYPE_TOKEN = re.compile(rb"\"[^\"]*\"|'[^']*'|<!--.*?-->|<\?.*?\?>|[\[\]>]", re.DOTALL)


def parse_with_feedparser(
    body: bytes, headers: dict[str, str], url: str, now: datetime, max_entries: int = MAX_ENTRIES
) -> ParsedFeed:
    """The feedparser path of `parse_feed`, for any document (the fast path's reference)."""
    import feedparser  # here, not at the top: topic rules use plain_text without needing the parser

    try:
        result = feedparser.parse(
            without_doctype(body),
            response_headers=response_headers_for(headers, url),
            sanitize_html=False,
            resolve_relative_uris=True,
        )
    except Exception as exc:  # feedparser's own bugs must not take the poll down
        raise ParseError(f"{url} could not be parsed: {type(exc).__name__}: {exc}.") from exc

    version = result.get("version", "")
    raw_entries = result.get("entries", [])
    problem = result.get("bozo_exception") if result.get("bozo") else None
    if not version and not raw_entries:
        reason = f": {problem}" if problem else ""
        kind = "an HTML page" if _looks_like_html(body) else "not an RSS or Atom feed"
        raise ParseError(f"{url} is {kind}{reason}.")
    return normalise(body, url, now, version, result.get("feed", {}), raw_entries, problem, max_entries)


def response_headers_for(headers: dict[str, str], url: str) -> dict[str, str]:
    """The response headers as feedparser is given them: lower-case names, and the document's URL
    as its Content-Location (the base of relative links) unless the server sent one."""
    response_headers = {key.lower(): value for key, value in headers.items()}
    response_headers.setdefault("content-location", url)
    return response_headers


def without_doctype(body: bytes) -> bytes:
    """The document without its DOCTYPE: feeds need none, and an internal subset's entities are how
    a document blows up when expanded (feedparser's lenient fallback expands what expat refused).
    Only the prolog's DOCTYPE goes: "<!DOCTYPE html>" in an item's CDATA is text."""
    span = doctype_span(body)
    if span is None:
        return body
    start, end = span
    return body[:start] + body[end:]


def doctype_span(body: bytes) -> tuple[int, int] | None:
    """Where the DOCTYPE declaration of the document's prolog starts and ends, when it has one.

    The prolog is what comes before the root element's start tag: a "<!DOCTYPE" after that is
    text (in CDATA, say), never a declaration. A declaration never closed ends with the body."""
    position = 0
    while (found := _PROLOG_MARKUP.search(body, position)) is not None:
        opening = found.group().lower()
        if opening == b"<!doctype":
            return found.start(), _doctype_end(body, found.end())
        if opening not in (b"<!--", b"<?"):
            return None  # the root element
        close = body.find(b"-->" if opening == b"<!--" else b"?>", found.end())
        if close < 0:
            return None
        position = close + (3 if opening == b"<!--" else 2)
    return None


def _doctype_end(body: bytes, position: int) -> int:
    """Just after the ">" that closes a DOCTYPE going on from `position`: not one inside the
    internal subset ("[...]"), a quoted literal, a comment or a processing instruction."""
    depth = 0
    for token in _DOCTYPE_TOKEN.finditer(body, position):
        mark = token.group()
        if mark == b"[":
            depth += 1
        elif mark == b"]":
            depth = max(depth - 1, 0)
        elif mark == b">" and depth == 0:
            return token.end()
    return len(body)


def _looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head
