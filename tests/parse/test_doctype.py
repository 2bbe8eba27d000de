"""Only the prolog's DOCTYPE is removed: "<!DOCTYPE html>" in an item's CDATA is text.

`parse.without_doctype` removes a document's DOCTYPE before feedparser sees it (an internal
subset's entities are how a document blows up), and the fast path refuses a document with one.
Both look at the prolog alone, what comes before the root element: an XML declaration, comments,
processing instructions and whitespace. A DOCTYPE there goes whole, internal subset and all, even
with ">" or "]" in its quoted literals and comments; the same characters later in the document
(an HTML page quoted in a description, near the top of the feed) are left alone.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from aggregator.exceptions import ParseError
from aggregator.parse import parse_feed
from aggregator.parse.fast import fast_parse
from aggregator.parse.feedparser import doctype_span, parse_with_feedparser, without_doctype

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
URL = "https://wire.example/feed.xml"
HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}
DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
QUOTED_PAGE = "<!DOCTYPE html><html><head><title>Quoted</title></head><body><p>The page as sent.</p></body></html>"


def channel(first_description: bytes = b"<![CDATA[" + QUOTED_PAGE.encode() + b"]]>") -> bytes:
    items = b"".join(
        b"<item><title>Report %d</title><link>https://wire.example/%d</link><guid>report-%d</guid>"
        b"<description>%s</description></item>\n"
        % (n, n, n, first_description if n == 1 else b"Plain text of report %d." % n)
        for n in (1, 2, 3)
    )
    return (
        b'<rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link>'
        b"<description>d</description>\n" + items + b"</channel></rss>\n"
    )


# --- a DOCTYPE that is text -----------------------------------------------------------------------

IN_CDATA = [
    DECLARATION + channel(),
    DECLARATION + channel(b"<![CDATA[\n" + QUOTED_PAGE.encode() + b"\n]]>"),
    DECLARATION + channel(b"<![CDATA[<!doctype html [ <!ENTITY x 'y'> ]><p>The page as sent.</p>]]>"),
    DECLARATION + channel(b"&lt;!DOCTYPE html&gt;&lt;p&gt;The page as sent.&lt;/p&gt;"),
    b"<!-- a comment first -->\n" + channel(),
]


@pytest.mark.parametrize("body", IN_CDATA, ids=["cdata", "cdata-lines", "cdata-subset", "escaped", "comment-first"])
def test_a_doctype_in_cdata_is_text(body: bytes) -> None:
    assert body.index(b"DOCTYPE" if b"DOCTYPE" in body else b"doctype") < 4096
    assert doctype_span(body) is None
    assert without_doctype(body) == body
    slow = parse_with_feedparser(body, HEADERS, URL, NOW)
    assert [entry.title for entry in slow.entries] == ["Report 1", "Report 2", "Report 3"]
    assert "The page as sent." in slow.entries[0].summary
    assert slow.entries[1].summary == "Plain text of report 2."
    assert slow.warning is None
    # The fast path reads it too, to the same result.
    assert fast_parse(body, HEADERS, URL, NOW) == slow
    assert parse_feed(body, HEADERS, URL, NOW) == slow


# --- a DOCTYPE that is a declaration --------------------------------------------------------------

SUBSET = b"""<!DOCTYPE rss [
  <!ENTITY quote "a > b ]> c">
  <!ENTITY apostrophe 'x ]> y'>
  <!-- a comment with > and ]> in it -->
  <?pi with > inside?>
  <!ELEMENT rss ANY>
]>"""
PROLOG_DOCTYPES = {
    "system": b'<!DOCTYPE rss SYSTEM "http://wire.example/rss-0.91.dtd">',
    "public": b'<!DOCTYPE rss PUBLIC "-//Netscape//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss.dtd">',
    "lower-case": b"<!doctype rss>",
    "internal-subset": SUBSET,
    "subset-and-system": b'<!DOCTYPE rss SYSTEM "x.dtd" [ <!ENTITY e "]>"> ]>',
}


@pytest.mark.parametrize("doctype", PROLOG_DOCTYPES.values(), ids=PROLOG_DOCTYPES.keys())
@pytest.mark.parametrize(
    "before",
    [b"", DECLARATION, DECLARATION + b"<!-- <!DOCTYPE not this one> -->\n<?stylesheet href='x'?>\n  \n"],
    ids=["alone", "after-declaration", "after-comment-and-pi"],
)
def test_a_prolog_doctype_is_removed_whole(before: bytes, doctype: bytes) -> None:
    body = before + doctype + b"\n" + channel()
    assert doctype_span(body) == (len(before), len(before) + len(doctype))
    assert without_doctype(body) == before + b"\n" + channel()
    assert fast_parse(body, HEADERS, URL, NOW) is None  # the fast path leaves DOCTYPEs to feedparser
    parsed = parse_feed(body, HEADERS, URL, NOW)
    assert [entry.title for entry in parsed.entries] == ["Report 1", "Report 2", "Report 3"]
    assert "The page as sent." in parsed.entries[0].summary


def test_an_unclosed_doctype_takes_the_rest_of_the_document() -> None:
    body = DECLARATION + b'<!DOCTYPE rss [ <!ENTITY e "x"> \n' + channel()
    assert doctype_span(body) == (len(DECLARATION), len(body))
    with pytest.raises(ParseError):
        parse_feed(body, HEADERS, URL, NOW)


def test_entity_expansion_is_still_refused() -> None:
    entities = [b'<!ENTITY lol "lol">'] + [
        b'<!ENTITY lol%d "%s">' % (n, (b"&lol%s;" % (str(n - 1).encode() if n > 1 else b"")) * 10) for n in range(1, 10)
    ]
    body = (
        DECLARATION
        + b"<!DOCTYPE rss [\n"
        + b"\n".join(entities)
        + b"\n]>\n"
        + channel(b"&lol9;").replace(b"<title>Report 1</title>", b"<title>Laughing &lol9;</title>")
    )
    started = time.monotonic()
    try:
        parsed = parse_feed(body, HEADERS, URL, NOW)
    except ParseError:
        parsed = None
    assert time.monotonic() - started < 5
    if parsed is not None:
        assert all("lollol" not in entry.title + entry.summary for entry in parsed.entries)
