"""Atom text constructs (type="text") are text: their characters survive, escaped in every output.

A type="text" title is stored as its plain text, "<" and all ("History of the <blink> tag"); a
type="text" summary or content is stored as that text HTML-escaped. Only what is declared HTML or
XHTML is sanitised, and RSS descriptions and titles stay HTML (RSS declares no type). A type="text"
title that would be active markup where a reader renders titles as HTML (a script, a tag with
attributes, a comment; also once its character references are decoded) is an attack, not a
headline about markup, and is stripped as HTML titles are. Every output escapes what it carries:
the Atom, RSS and JSON feeds and the HTML pages show the characters, never an element made of them.
"""

from __future__ import annotations

import json
from html import escape

import lxml.html
import pytest
from lxml import etree
from test_authors import ATOM_TYPE, RSS_TYPE, both_paths, published_outputs, stories_from

from aggregator.text import search_text
from aggregator.topics import TopicMatcher
from aggregator.types import ItemFacts, Topic

ATOM_NS = "{http://www.w3.org/2005/Atom}"
SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(2)>"


def atom_feed(entries: list[str], title: str = '<title type="text">Web &lt;dev&gt; Weekly</title>') -> bytes:
    blocks = "".join(
        f'<entry>{body}<link href="https://webdev.example/{n}"/><id>tag:webdev.example,2026:{n}</id>'
        f"<updated>2026-11-28T{10 + n % 2}:{n:02d}:00Z</updated></entry>"
        for n, body in enumerate(entries)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f'{title}<link href="https://webdev.example/"/><id>tag:webdev.example,2026:feed</id>'
        f"<updated>2026-11-28T11:00:00Z</updated>{blocks}</feed>"
    ).encode()


def text(value: str) -> str:
    """`value` as an element's text in the document."""
    return escape(value, quote=False)


# --- titles ---------------------------------------------------------------------------------------

KEPT_TITLES = [
    "History of the <blink> tag",
    "Use the <details> element",
    "Why 3 < 5 and 7 > 2 still matter to AT&T",
    "Is a < b when b > a?",
    "</p> closes a paragraph",
    "Escaping: write &lt; for <",  # the reference is the text, not a character
]


@pytest.mark.parametrize("title", KEPT_TITLES)
def test_atom_text_titles_keep_their_characters(title: str) -> None:
    parsed = both_paths(atom_feed([f'<title type="text">{text(title)}</title>']), ATOM_TYPE)
    assert parsed.meta.title == "Web <dev> Weekly"
    assert [entry.title for entry in parsed.entries] == [title]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (f"Crude {SCRIPT} oil tanker", "Crude oil tanker"),
        (f"Beware {IMAGE} tricks", "Beware tricks"),
        ('Read <a href="javascript:alert(3)">this</a> now', "Read this now"),
        ("A <!-- hidden --> title", "A title"),
        ("<iframe> embeds", "embeds"),
        # The characters of a reference, which a reader that decodes twice would read as a tag.
        ("Doubly &lt;script&gt;alert(1)&lt;/script&gt; escaped", "Doubly escaped"),
    ],
)
def test_atom_text_titles_that_would_be_active_markup_are_stripped(title: str, expected: str) -> None:
    parsed = both_paths(atom_feed([f'<title type="text">{text(title)}</title>']), ATOM_TYPE)
    assert [entry.title for entry in parsed.entries] == [expected]


def test_rss_and_html_titles_are_still_html() -> None:
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title><link>https://w.example/</link>'
        b"<description>d</description><item><title>A &lt;b&gt;bold&lt;/b&gt; move</title>"
        b"<link>https://w.example/1</link><description>&lt;p&gt;Para&lt;/p&gt;&lt;blink&gt;x</description></item>"
        b"</channel></rss>"
    )
    [entry] = both_paths(rss, RSS_TYPE).entries
    assert (entry.title, entry.summary) == ("A bold move", "<p>Para</p>x")
    atom = atom_feed(['<title type="html">A &lt;b&gt;bold&lt;/b&gt; move by AT&amp;amp;T</title>'])
    assert [entry.title for entry in both_paths(atom, ATOM_TYPE).entries] == ["A bold move by AT&T"]


# --- summaries and content ------------------------------------------------------------------------

DETAILS = "Use the <details> element & more"
ESCAPED_DETAILS = "Use the &lt;details&gt; element &amp; more"
HTML = "<p>A <b>bold</b> move</p><script>alert(1)</script>"
SANITISED = "<p>A <b>bold</b> move</p>"


@pytest.mark.parametrize(
    ("body", "summary", "content"),
    [
        (f'<summary type="text">{text(DETAILS)}</summary>', ESCAPED_DETAILS, ""),
        (f"<summary>{text(DETAILS)}</summary>", ESCAPED_DETAILS, ""),  # Atom's default type is text
        (f'<summary type="text/plain">{text(DETAILS)}</summary>', ESCAPED_DETAILS, ""),
        (f'<content type="text">{text(DETAILS)}</content>', ESCAPED_DETAILS, ""),  # copied into the summary
        (
            f'<summary type="text">{text(DETAILS)}</summary><content type="html">{text(HTML)}</content>',
            ESCAPED_DETAILS,
            SANITISED,
        ),
        (
            f'<summary type="html">{text(HTML)}</summary><content type="text">{text(DETAILS)}</content>',
            SANITISED,
            ESCAPED_DETAILS,
        ),
        (f'<summary type="html">{text(HTML)}</summary>', SANITISED, ""),
        (f'<content type="html">{text(HTML)}</content>', SANITISED, ""),
    ],
)
def test_atom_text_summary_and_content_are_escaped_text(body: str, summary: str, content: str) -> None:
    [entry] = both_paths(atom_feed([f"<title>t</title>{body}"]), ATOM_TYPE).entries
    assert (entry.summary, entry.content) == (summary, content)


def test_search_and_topics_see_the_literal_words() -> None:
    body = f'<title type="text">History of the &lt;blink&gt; tag</title><summary type="text">{text(DETAILS)}</summary>'
    [entry] = both_paths(atom_feed([body]), ATOM_TYPE).entries
    assert "Use the <details> element & more" in search_text(entry.summary)
    matcher = TopicMatcher([Topic("blink", "Blink", keywords=("blink",)), Topic("more", "More", keywords=("more",))])
    assert matcher.topics_for(ItemFacts(title=entry.title, summary_html=entry.summary)) == ("blink", "more")


# --- every output ---------------------------------------------------------------------------------


def test_hostile_text_appears_only_as_text_in_every_output() -> None:
    hostile = f"Crude {SCRIPT} and {IMAGE} oil"
    entries = [
        ("History of the <blink> tag", f'<summary type="text">{text(hostile)}</summary>'),
        ("Use the <details> element", f'<content type="text">{text(hostile)}</content>'),
        (hostile, f'<summary type="text">{text(DETAILS)}</summary>'),
    ]
    document = atom_feed([f'<title type="text">{text(title)}</title>{body}' for title, body in entries])
    parsed = both_paths(document, ATOM_TYPE)
    titles = [entry.title for entry in parsed.entries]
    assert titles == ["History of the <blink> tag", "Use the <details> element", "Crude and oil"]
    outputs = published_outputs(stories_from(parsed))

    atom = etree.fromstring(outputs["Atom feed"].encode())
    entries = list(atom.iter(f"{ATOM_NS}entry"))
    assert [_text_only(entry.find(f"{ATOM_NS}title")) for entry in entries] == titles
    atom_html = [
        element.text or "" for entry in entries for element in entry.iter(f"{ATOM_NS}summary", f"{ATOM_NS}content")
    ]
    rss = etree.fromstring(outputs["RSS feed"].encode())
    assert [_text_only(title) for title in rss.iter("title")][1:] == titles  # after the channel's
    rss_html = [description.text or "" for description in rss.iter("description")][1:]
    items = json.loads(outputs["JSON Feed"])["items"]
    assert [item["title"] for item in items] == titles
    json_html = [item["content_html"] for item in items]

    for where, fragments in (("Atom", atom_html), ("RSS", rss_html), ("JSON Feed", json_html)):
        shown = " ".join(_harmless_html(fragment, where) for fragment in fragments)
        assert hostile in shown, where  # the text, as a reader shows it
        assert DETAILS in shown, where

    for page in ("front page", "ticker", "search page"):
        source = outputs[page]
        _harmless_html(source, page)
        shown = lxml.html.fromstring(source).text_content()
        for title in titles:
            assert escape(title, quote=False) in source and title in shown, (page, title)


def _text_only(element: etree._Element | None) -> str:
    """The text of an XML element that must have no child element."""
    assert element is not None and len(element) == 0, element
    return element.text or ""


def _harmless_html(markup: str, where: str) -> str:
    """The text a browser shows of `markup`, after checking that it holds no active element or handler."""
    document = lxml.html.fromstring(f"<div>{markup}</div>" if not markup.lstrip().startswith("<!doctype") else markup)
    for element in document.iter():
        if not isinstance(element.tag, str):
            continue
        assert element.tag not in ("script", "img", "blink", "details", "iframe"), (where, element.tag)
        assert not any(name.startswith("on") for name in element.attrib), (where, element.tag, dict(element.attrib))
    return document.text_content()
