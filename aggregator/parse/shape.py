"""Feedparser-shaped dicts to a ParsedFeed; pure (no network, no clock: `now` comes in).

Both parse paths (`parse.fast` and `parse.feedparser`) produce the dicts feedparser would, and
`normalise` makes the one ParsedFeed of them: titles as plain text (an Atom type="text" title keeps
its characters unless they would be active markup where titles are rendered as HTML), summaries
and content as sanitised HTML (type="text" ones escaped), authors by name only, links http(s)
only, dates in UTC between 1970 and `now` (else the first-seen time, with a warning naming one),
and at most `max_entries` entries, the newest.
"""

from __future__ import annotations

import calendar
import email.utils
import html
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aggregator.text import (
    MAX_HTML_CHARS,
    MAX_UNESCAPES,
    author_name,
    clean_text,
    plain_text,
    sanitise_html,
    without_unsafe,
    xml_safe,
)
from aggregator.types import Entry, FeedHints, FeedMeta, ParsedFeed

_WHITESPACE = re.compile(r"\s+")
MAX_ENTRIES = 1000  # the default of [poll] max_entries

# Dates before this are unset defaults (.NET's 0001-01-01, Unix's 1970-01-01) or typing errors, not
# publication times; like dates in the future they give way to the first-seen time. Every date an
# entry keeps is between this and `now`, so arithmetic on it (windows, retention) cannot overflow.
EARLIEST_DATE = datetime(1970, 1, 2, tzinfo=UTC)

# A date later than `now` by more than this is worth a warning; a few minutes of clock skew is not.
FUTURE_WARNING = timedelta(days=1)

UNTITLED = "(untitled)"

# Markup a type="text" title may show as text: bare tags ("the <dialog> element") of elements that
# do nothing much when a reader renders the title as HTML, as many do.
_TEXT_TAG_LIKE = re.compile(r"<[A-Za-z/!?]")  # what an HTML parser reads as markup

_TEXT_BARE_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)\s*/?>")

# Elements that run, load or embed something, or change how the rest of a page is read.
_ACTIVE_ELEMENTS = frozenset(
    {
        "applet",
        "audio",
        "base",
        "basefont",
        "bgsound",
        "body",
        "button",
        "embed",
        "form",
        "frame",
        "frameset",
        "head",
        "html",
        "iframe",
        "image",
        "img",
        "input",
        "isindex",
        "keygen",
        "link",
        "listing",
        "math",
        "meta",
        "noembed",
        "noframes",
        "noscript",
        "object",
        "param",
        "picture",
        "plaintext",
        "portal",
        "script",
        "select",
        "source",
        "style",
        "svg",
        "template",
        "textarea",
        "title",
        "track",
        "video",
        "xmp",
    }
)

_SKIP_HOURS = re.compile(rb"<skipHours>(.*?)</skipHours>", re.DOTALL)

_SKIP_DAYS = re.compile(rb"<skipDays>(.*?)</skipDays>", re.DOTALL)

_HOUR = re.compile(rb"<hour>\s*(\d{1,2})\s*</hour>")

_DAY = re.compile(rb"<day>\s*([A-Za-z]+)\s*</day>")

_SY_PERIOD_MINUTES = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def normalise(
    body: bytes,
    url: str,
    now: datetime,
    version: str,
    feed: Mapping[str, Any],
    raw_entries: Sequence[Mapping[str, Any]],
    problem: object | None,
    max_entries: int = MAX_ENTRIES,
) -> ParsedFeed:
    """The ParsedFeed of a parsed document, from feed-level and entry-level dicts shaped like
    feedparser's (title, title_detail, link, id, summary, content, author, tags, published_parsed,
    updated_parsed, rights, language, ttl, sy_updateperiod, sy_updatefrequency); `problem` is the
    survivable problem to report, if any. What else is worth a warning (entries cut, impossible
    dates) joins it."""
    atom = version.startswith("atom")
    meta = FeedMeta(
        title=_text_field(feed, "title", atom) or None,
        link=_http_link(feed.get("link")),
        feed_id=clean_text(feed.get("id") or "") or None,
        version=version,
        hints=feed_hints(body, feed),
        rights=_text_field(feed, "rights", atom) or None,
        updated=plausible_date(_utc(_own(feed, "updated_parsed")), now),
    )
    language = (feed.get("language") or "").strip() or None
    impossible: list[str] = []
    entries = [_entry(raw, now, atom, language, impossible) for raw in raw_entries]
    # An entry with nothing of its own (a truncated document's last half, an empty <item/>) says nothing;
    # RSS allows an item with only a description, which is kept.
    entries = [e for e in entries if e.guid or e.link or e.title != UNTITLED or e.summary or e.content]
    warnings = [f"{url}: {problem}"] if problem else []
    if impossible:
        warnings.append(
            f"{len(impossible):,} entries dated before 1970 or in the future (such as {impossible[0]!r}) are "
            "dated by when they were first seen"
        )
    if len(entries) > max_entries:
        entries = sorted(entries, key=lambda e: e.published or now, reverse=True)[:max_entries]
        warnings.append(f"{len(raw_entries):,} entries; only the newest {max_entries:,} are kept ([poll] max_entries)")
    return ParsedFeed(meta=meta, entries=tuple(entries), warning="; ".join(warnings) or None)


def feed_hints(body: bytes, feed: Any) -> FeedHints:
    """RSS <ttl>, sy:updatePeriod/updateFrequency, skipHours and skipDays.

    feedparser keeps only the last <hour> and <day> of skipHours/skipDays, so those two are read
    from the bytes: they are flat, namespace-free RSS 2.0 elements.
    """
    ttl = _positive_int(feed.get("ttl"))
    period = _SY_PERIOD_MINUTES.get(str(feed.get("sy_updateperiod", "")).strip().lower())
    frequency = _positive_int(feed.get("sy_updatefrequency")) or 1
    skip_hours = frozenset(
        int(hour) % 24 for block in _SKIP_HOURS.findall(body) for hour in _HOUR.findall(block) if int(hour) <= 24
    )
    skip_days = frozenset(
        WEEKDAYS.index(day.decode().capitalize())
        for block in _SKIP_DAYS.findall(body)
        for day in _DAY.findall(block)
        if day.decode().capitalize() in WEEKDAYS
    )
    return FeedHints(
        ttl_minutes=ttl,
        update_minutes=period / frequency if period else None,
        skip_hours=skip_hours,
        skip_days=skip_days,
    )


def _positive_int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


def _entry(
    raw: Mapping[str, Any], now: datetime, atom: bool, feed_language: str | None, impossible: list[str]
) -> Entry:
    raw_summary = raw.get("summary", "")
    contents = raw.get("content") or []
    raw_content = contents[0].get("value", "") if contents else ""
    content_type = contents[0].get("type") if atom and contents else None
    summary_type = _summary_type(raw, raw_content, content_type) if atom else None
    summary = _as_html(raw_summary, summary_type)
    # feedparser copies a lone content into the summary: the same HTML is sanitised once.
    same = raw_content == raw_summary and content_type == summary_type
    content = "" if same else _as_html(raw_content, content_type)
    if content == summary:
        content = ""
    published, updated = _entry_dates(raw, now, impossible)
    return Entry(
        guid=xml_safe(raw.get("id") or "").strip() or None,
        title=_text_field(raw, "title", atom) or UNTITLED,
        link=_http_link(raw.get("link")),
        summary=summary,
        content=content,
        author=_author(raw),
        categories=tuple(
            dict.fromkeys(
                clean_text(tag.get("term") or tag.get("label") or "")
                for tag in raw.get("tags") or []
                if tag.get("term") or tag.get("label")
            )
        ),
        language=(raw.get("title_detail") or {}).get("language") or feed_language,
        published=published,
        updated=updated,
    )


def _entry_dates(
    raw: Mapping[str, Any], now: datetime, impossible: list[str]
) -> tuple[datetime | None, datetime | None]:
    """An entry's published and updated times, each None when absent or impossible; the text of
    an impossible one (far in the past or the future) goes to `impossible` for the feed's warning."""
    dates: list[datetime | None] = []
    for key in ("published", "updated"):
        text = _own(raw, key)
        moment = _utc(_own(raw, f"{key}_parsed")) or (_lenient_date(text) if isinstance(text, str) else None)
        kept = plausible_date(moment, now)
        if moment is not None and kept is None and not now < moment <= now + FUTURE_WARNING:
            impossible.append(text if isinstance(text, str) and text else moment.isoformat())
        dates.append(kept)
    published, updated = dates
    return published or updated, updated


def _lenient_date(text: str) -> datetime | None:
    """An RFC 822 date that feedparser refuses: one without a zone (read as UTC), or with a leap
    second (23:59:60, which rolls over into the next minute)."""
    parts = email.utils.parsedate_tz(text)
    if parts is None:
        return None
    try:
        seconds = calendar.timegm((*parts[:6], 0, 0, 0)) - (parts[9] or 0)
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        return None


def plausible_date(moment: datetime | None, now: datetime) -> datetime | None:
    """`moment` when a feed could mean it (from 1970 to `now`), else None: a date in the future is a
    publisher's mistake, and one before 1970 an unset default; the first-seen time is the honest one."""
    if moment is None or moment < EARLIEST_DATE or moment > now:
        return None
    return moment


def _own(record: Mapping[str, Any], key: str) -> Any:
    # dict.get, not record.get: FeedParserDict answers a missing updated_parsed with published_parsed
    # (and a DeprecationWarning); an absent date must stay absent.
    return dict.get(record, key) if isinstance(record, dict) else record.get(key)


def _summary_type(raw: Mapping[str, Any], raw_content: str, content_type: str | None) -> str | None:
    """The type an Atom entry declares for its summary: the summary's own, or its content's when
    feedparser copied a lone content into the summary (it then writes no summary_detail)."""
    detail = raw.get("summary_detail")
    if detail:
        declared: str | None = detail.get("type")
        return declared
    return content_type if raw_content == raw.get("summary", "") else None


def _as_html(value: str, kind: str | None) -> str:
    """A summary or content as HTML safe to republish: text (Atom's type="text", "text/plain")
    escaped, keeping every character; anything else is HTML and sanitised."""
    if kind == "text/plain":
        return html.escape(without_unsafe(value[:MAX_HTML_CHARS]), quote=False).strip()
    return sanitise_html(value)


def _text_field(raw: Mapping[str, Any], name: str, atom: bool) -> str:
    """A title as plain text. Atom says its type: type="text" is text and keeps its characters
    ("The <dialog> element"; every output escapes them). RSS does not, and its titles are HTML in
    practice (feedparser's guess of "text/plain" is only a guess)."""
    value = raw.get(name, "")
    detail = raw.get(f"{name}_detail") or {}
    if atom and detail.get("type") == "text/plain":
        text = without_unsafe(value[:MAX_HTML_CHARS])
        # Many readers render titles as HTML (RSS gives them no type): text that would be active
        # markup there ("<script>", a tag with attributes, a comment) is an attack, stripped as HTML.
        if _inert_text(text):
            return clean_text(text)
    return plain_text(value)


def _inert_text(text: str) -> bool:
    """Whether text, however often a reader decodes its character references, holds no markup but
    bare tags of elements outside _ACTIVE_ELEMENTS ("<blink>", "</p>")."""
    for _ in range(MAX_UNESCAPES):
        for match in _TEXT_TAG_LIKE.finditer(text):
            bare = _TEXT_BARE_TAG.match(text, match.start())
            if bare is None or bare.group(1).lower() in _ACTIVE_ELEMENTS:
                return False
        decoded = without_unsafe(html.unescape(text))
        if decoded == text:
            return True
        text = decoded
    return False


def _author(raw: Mapping[str, Any]) -> str | None:
    return author_name(raw.get("author") or "")


def _utc(parsed: time.struct_time | None) -> datetime | None:
    if not parsed:
        return None
    try:  # timegm, not fromtimestamp alone: a leap second (23:59:60) rolls over into the next minute
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=calendar.timegm(parsed))
    except (OverflowError, ValueError, TypeError):
        return None


def _http_link(value: Any) -> str | None:
    if isinstance(value, str):
        link = without_unsafe(value).strip()
        if link.lower().startswith(("http://", "https://")) and not _WHITESPACE.search(link):
            return link
    return None
