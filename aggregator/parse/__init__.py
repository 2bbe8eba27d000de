"""Bytes and response headers to a ParsedFeed; pure (no network, no clock).

Two paths give the same result: `fast` reads well-formed RSS 2.0 and Atom 1.0 documents with lxml,
and `feedparser` reads everything else; both produce feedparser-shaped dicts that `shape.normalise`
makes into entries. `tests/parse/test_fast.py` proves the two paths equal.
"""

from __future__ import annotations

from datetime import datetime

from aggregator.parse.fast import fast_parse
from aggregator.parse.feedparser import parse_with_feedparser
from aggregator.parse.shape import EARLIEST_DATE, MAX_ENTRIES, UNTITLED
from aggregator.types import ParsedFeed

__all__ = ["EARLIEST_DATE", "MAX_ENTRIES", "UNTITLED", "parse_feed"]


def parse_feed(
    body: bytes, headers: dict[str, str], url: str, now: datetime, max_entries: int = MAX_ENTRIES
) -> ParsedFeed:
    """Parse a fetched document; `url` resolves relative links, `now` is the first-seen time, and
    only the newest `max_entries` entries are kept.

    A well-formed RSS 2.0 or Atom 1.0 document takes the fast path (`parse.fast`), whose result is
    the one the feedparser path gives; every other document goes through feedparser.
    """
    parsed = fast_parse(body, headers, url, now, max_entries)
    return parsed if parsed is not None else parse_with_feedparser(body, headers, url, now, max_entries)
