"""Text from feeds made safe to republish; pure.

- `plain_text`: what a person reads of HTML (tags removed, references decoded, repeatedly, so a
  double-escaped "&amp;lt;script&amp;gt;" cannot decode into a tag); `clean_text` drops controls,
  bidirectional overrides and characters XML forbids, and cuts at MAX_TITLE_CHARS.
- `sanitise_html`: HTML through nh3's allow-list, so that no script, style, event handler or
  `javascript:`/`data:` URL survives.
- `author_name`: an author by name only; a republisher does not spread e-mail addresses.

Parsing, topics, publishing and the pages all use these, and none of them needs the parser.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import nh3

ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "dd",
        "del",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "time",
        "tr",
        "u",
        "ul",
    }
)

ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "time": {"datetime"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}

URL_SCHEMES = frozenset({"http", "https", "mailto"})

MAX_TITLE_CHARS = 500

MAX_HTML_CHARS = 200_000  # a summary or content longer than this is cut before sanitising

MAX_UNESCAPES = 20

# C0/C1 controls (but tab, newline) and bidi overrides: they garble or spoof a headline.
_UNSAFE_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")

_WHITESPACE = re.compile(r"\s+")

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")

# An e-mail address, with "mailto:" and the brackets it is often written in. A handle is no
# address: "@newsdesk" has no local part, and a fediverse handle ("@jane@social.example", public
# by design) starts with "@"; a domain needs a dot.
_ADDRESS = r"(?<![\w.@+-])(?:mailto:)?[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+"

_ADDRESS_WITH_NAME = re.compile(_ADDRESS + r"\s*\(([^()]*)\)", re.IGNORECASE)  # RSS: "email (Name)"

_WRAPPED_ADDRESS = re.compile(r"(?:[(<\[]\s*)?" + _ADDRESS + r"(?:\s*[)>\]])?", re.IGNORECASE)

_EMPTY_BRACKETS = re.compile(r"\(\s*\)|<\s*>|\[\s*\]")

_PARENTHESISED = re.compile(r"\(([^()]*)\)")

_NAME_EDGES = " ,;:|/-\u2013\u2014"


def _cleaner(**options: Any) -> Callable[[str], str]:
    """nh3's sanitiser with these options, built once (nh3.clean builds one per call, most of its cost)."""
    reusable = getattr(nh3, "Cleaner", None)  # nh3 0.3 and later
    if reusable is None:
        return lambda value: nh3.clean(value, **options)
    clean: Callable[[str], str] = reusable(**options).clean
    return clean


# Everything removed but text (and script and style with their content): plain text.
_TEXT_CLEANER = _cleaner(tags=set(), clean_content_tags={"script", "style"})

_HTML_CLEANER = _cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    link_rel="noopener noreferrer",
)


def plain_text(value: str) -> str:
    """Text a person reads from HTML: tags removed, entities decoded, then `clean_text`. Repeated
    until nothing changes, so a double-escaped "&amp;lt;script&amp;gt;" cannot decode into a tag."""
    text = without_unsafe(value[:MAX_HTML_CHARS])
    for _ in range(MAX_UNESCAPES):
        # Unsafe characters go inside the loop: removing one can join "<" to what follows it.
        decoded = without_unsafe(html.unescape(_TEXT_CLEANER(text)))
        if decoded == text:
            break
        text = decoded
    else:
        # Escaped more times than any publisher would: whatever is still tag-like loses its "<".
        text = _TAG_START.sub("", text)
    return clean_text(text)


def clean_text(value: str) -> str:
    """Controls, bidi overrides and characters XML forbids dropped, whitespace collapsed, at most
    MAX_TITLE_CHARS."""
    text = _WHITESPACE.sub(" ", _UNSAFE_CHARACTERS.sub("", xml_safe(value))).strip()
    if len(text) > MAX_TITLE_CHARS:
        text = text[: MAX_TITLE_CHARS - 1].rstrip() + "\u2026"
    return text


def sanitise_html(value: str) -> str:
    """HTML safe to republish: allow-listed tags and attributes, http(s)/mailto links only."""
    if not value:
        return ""
    cleaned = _HTML_CLEANER(_UNSAFE_CHARACTERS.sub("", value[:MAX_HTML_CHARS]))
    # nh3 decodes character references ("&#1;"): what it decodes must still be allowed in XML.
    return _UNSAFE_CHARACTERS.sub("", xml_safe(cleaned)).strip()


def without_unsafe(text: str) -> str:
    return _UNSAFE_CHARACTERS.sub("", xml_safe(text))


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (most C0 controls, lone surrogates, U+FFFE/F)."""
    return _XML_ILLEGAL.sub("", text)


def author_name(value: str) -> str | None:
    """An author as offthewire republishes them: the name alone, as plain text; None when there is
    no name (an author given only as an e-mail address). A republisher does not spread addresses:
    Atom's <email> (feedparser writes "Name (email)"), RSS <author> ("email (Name)", "Name (email)"),
    dc:creator ("Name <email>", "email") all lose theirs. A handle ("@newsdesk") is a name."""
    # Addresses go before and after plain_text: "&lt;j@x.example&gt;" is only an address once decoded.
    return _without_addresses(plain_text(_without_addresses(value))) or None


def _without_addresses(text: str) -> str:
    """`text` without e-mail addresses and the brackets or separators left empty by them. Each goes
    for a space, so that no "<" is joined to what followed the address."""
    text = _ADDRESS_WITH_NAME.sub(r" \1 ", text)
    text = _EMPTY_BRACKETS.sub(" ", _WRAPPED_ADDRESS.sub(" ", text))
    text = _WHITESPACE.sub(" ", text).strip(_NAME_EDGES)
    parenthesised = _PARENTHESISED.fullmatch(text)
    return parenthesised.group(1).strip(_NAME_EDGES) if parenthesised else text


_TAG = re.compile(r"<[^>]*>")


def search_text(summary_html: str) -> str:
    """The words of a (sanitised) summary for the search index: tags out, entities decoded."""
    return html.unescape(_TAG.sub(" ", summary_html))
