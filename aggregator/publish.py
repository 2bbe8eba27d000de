"""Stories to feed documents (Atom 1.0 and RSS 2.0 with feedgen, JSON Feed 1.1); pure (no
database, no clock, no files).

One entry per story: the first report is the entry, every other outlet that carried the story is
credited in it ("Also reported by"). Ids never change across republishing: the feed's id derives
from the installation's id and the feed's path, an entry's from its story's key. The output
depends only on the stories given, so an unchanged database gives byte-identical files.

Rendering an entry is most of a document's cost, and a story is in several documents (the merged
feed, its topic feeds, their archive pages) and unchanged across most publishes: each story's
entry is rendered once per format and kept (`_rendered_entry`, `_json_item`) while it is among the
ENTRY_CACHE_SIZE most recently used, keyed by everything it is rendered from.
"""

from __future__ import annotations

import copy
import functools
import html
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.ext.dc import DcEntryExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from aggregator import __version__
from aggregator.text import author_name, plain_text, xml_safe
from aggregator.types import Item, Story, Topic

MERGED_FEED_PATH = "feeds/off-the-wire.atom"
MERGED_FEED_FILE = "off-the-wire.atom"
# Every feed is written in each format, beside the Atom file: same stem, another suffix.
FORMATS = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
SUMMARY_CHARS = 300  # what a "summary" rights mode keeps of a report's text
# Rendered entries kept (Atom and RSS together; as many JSON items): room for every live feed's
# (about 1,000 with 8 topics at the default limit), so a publish re-renders only changed stories.
# Memory: about 9 KB an entry with its story (18 MB when full).
ENTRY_CACHE_SIZE = 2048


def in_format(path: str, fmt: str) -> str:
    """The same feed's path or file name in another format ("x.atom" -> "x.rss")."""
    return path.rsplit(".", 1)[0] + "." + fmt


def topic_feed_path(slug: str) -> str:
    return f"feeds/topics/{slug}.atom"


def topic_feed_file(slug: str) -> str:
    return f"topics/{slug}.atom"


def archive_file(feed_file: str, page: int) -> str:
    """Where archive page `page` of a feed is written ("off-the-wire.atom" -> "archive/off-the-wire/3.atom")."""
    return f"archive/{feed_file.removesuffix('.atom')}/{page}.atom"


def archive_path(feed_file: str, page: int) -> str:
    """The URL path of that archive page, under the feeds."""
    return "feeds/" + archive_file(feed_file, page)


ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005


@dataclass(frozen=True)
class Paging:
    """RFC 5005 links of one Atom document. The subscription document links the newest archive
    page; an archive page links the one before it, its own address and the subscription document.
    `next` (paged feeds, RFC 5005 section 3) points where `prev-archive` does, so a reader that
    knows only paged feeds walks the same pages."""

    prev_archive: str | None = None
    archive_self: str | None = None
    current: str | None = None

    @property
    def is_archive(self) -> bool:
        return self.archive_self is not None


class FeedLinksExtension(BaseExtension):  # type: ignore[misc]
    """What feedgen cannot write itself: the fh:archive marker of an archive document (Atom) and
    the WebSub hub link in RSS (an atom:link in the channel)."""

    def __init__(self) -> None:
        self.archive = False
        self.hub: str | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"fh": HISTORY_NS} if self.archive else {}

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        if self.archive:
            etree.SubElement(feed, f"{{{HISTORY_NS}}}archive")
        return feed

    def extend_rss(self, rss: etree._Element) -> etree._Element:
        if self.hub:
            channel = rss.find("channel")
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", rel="hub", href=self.hub)
        return rss


class FullSourceExtension(BaseEntryExtension):  # type: ignore[misc]
    """A complete atom:source (RFC 4287 4.2.11): feedgen's own `entry.source()` writes only title
    and link, but a reader needs the original feed's id, self and alternate links, updated and
    rights to credit and follow it."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def set(self, **fields: str | None) -> None:
        self.fields = {key: xml_safe(value) for key, value in fields.items() if value}

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        if not self.fields:
            return entry
        source = etree.SubElement(entry, f"{{{ATOM_NS}}}source", nsmap={None: ATOM_NS})
        for name in ("id", "title", "updated", "rights"):
            if name in self.fields:
                etree.SubElement(source, f"{{{ATOM_NS}}}{name}").text = self.fields[name]
        if "self_link" in self.fields:
            etree.SubElement(
                source, f"{{{ATOM_NS}}}link", rel="self", href=self.fields["self_link"], type="application/xml"
            )
        if "alternate" in self.fields:
            etree.SubElement(
                source, f"{{{ATOM_NS}}}link", rel="alternate", href=self.fields["alternate"], type="text/html"
            )
        return entry


@dataclass(frozen=True)
class FeedContext:
    """What every feed of one publish shares."""

    install_id: str
    base_url: str
    topics: Mapping[str, Topic]
    empty_updated: datetime
    hub: str | None = None

    def updated(self, stories: Sequence[Story]) -> datetime:
        """A feed's updated time: its newest story's, or the database's birth for an empty feed."""
        return max((story.updated for story in stories), default=self.empty_updated)

    def topic_title(self, slug: str) -> str:
        topic = self.topics.get(slug)
        return topic.title if topic else slug


@dataclass(frozen=True)
class FeedSpec:
    """What one output feed is: where it lives, what it is called, and its permanent id."""

    path: str
    file: str
    title: str
    subtitle: str
    topic: str | None = None


def feed_id(install_id: str, path: str) -> str:
    """A feed's permanent id: stays the same when base_url or the title change."""
    return uuid.uuid5(uuid.UUID(install_id), path).urn


def entry_id(story: Story) -> str:
    return f"urn:uuid:{story.key}"


def render_atom(
    spec: FeedSpec,
    stories: Sequence[Story],
    context: FeedContext,
    paging: Paging = Paging(),
) -> bytes:
    """The Atom document for `stories` (already newest first and limited): the subscription
    document, or with `paging.archive_self` one of its archive pages."""
    base_url = context.base_url
    fg = FeedGenerator()
    fg.id(feed_id(context.install_id, spec.path))
    fg.title(spec.title)
    fg.subtitle(spec.subtitle)
    fg.link(href=paging.archive_self or base_url + spec.path, rel="self", type="application/atom+xml")
    if paging.is_archive:
        fg.link(href=base_url + spec.path, rel="current", type="application/atom+xml")
    else:
        for fmt in ("rss", "json"):
            fg.link(href=base_url + in_format(spec.path, fmt), rel="alternate", type=FORMATS[fmt].split(";")[0])
        if context.hub:
            fg.link(href=context.hub, rel="hub")
    # The HTML page last: some readers (newsboat) take the last alternate link as the website.
    fg.link(href=base_url, rel="alternate", type="text/html")
    if paging.prev_archive:
        fg.link(href=paging.prev_archive, rel="prev-archive", type="application/atom+xml")
        fg.link(href=paging.prev_archive, rel="next", type="application/atom+xml")
    fg.register_extension("feedlinks", FeedLinksExtension, atom=True, rss=False)
    fg.feedlinks.archive = paging.is_archive
    fg.author({"name": "offthewire"})
    fg.generator("offthewire", version=__version__)
    fg.language("en")
    fg.updated(context.updated(stories))
    fg.register_extension("wiresource", BaseExtension, FullSourceExtension, atom=True, rss=False)
    for story in stories:
        fg.add_entry(_entry("atom", story, context), order="append")
    return bytes(fg.atom_str(pretty=True))


def render(fmt: str, spec: FeedSpec, stories: Sequence[Story], context: FeedContext, paging: Paging) -> bytes:
    """The feed in one of FORMATS; paging links go in the Atom document only (RFC 5005 is Atom's)."""
    if fmt == "atom":
        return render_atom(spec, stories, context, paging)
    renderers = {"rss": render_rss, "json": render_json_feed}
    return renderers[fmt](spec, stories, context)


def render_rss(
    spec: FeedSpec,
    stories: Sequence[Story],
    context: FeedContext,
) -> bytes:
    """The RSS 2.0 document for `stories`: the same entries as the Atom feed."""
    fg = FeedGenerator()
    fg.title(spec.title)
    fg.description(spec.subtitle)
    fg.link(href=context.base_url + in_format(spec.path, "rss"), rel="self")
    fg.link(href=context.base_url, rel="alternate")
    fg.generator("offthewire", version=__version__)
    fg.language("en")
    fg.lastBuildDate(context.updated(stories))
    fg.register_extension("feedlinks", FeedLinksExtension, atom=False, rss=True)
    fg.feedlinks.hub = context.hub
    fg.load_extension("dc", atom=False, rss=True)
    for story in stories:
        fg.add_entry(_entry("rss", story, context), order="append")
    return bytes(fg.rss_str(pretty=True))


def render_json_feed(
    spec: FeedSpec,
    stories: Sequence[Story],
    context: FeedContext,
) -> bytes:
    """The JSON Feed 1.1 document for `stories`: the same entries as the Atom feed."""
    items = [_json_item(story, _offsets(story)) for story in stories]
    document = {
        "version": JSON_FEED_VERSION,
        "title": spec.title,
        "home_page_url": context.base_url,
        "feed_url": context.base_url + in_format(spec.path, "json"),
        "description": spec.subtitle,
        "language": "en",
        "authors": [{"name": "offthewire"}],
        "items": items,
    }
    if context.hub:
        document["hubs"] = [{"type": "WebSub", "url": context.hub}]
    # Compact: the C encoder (with indent, json uses its Python one, most of a JSON Feed's cost).
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class RenderedEntry(FeedEntry):  # type: ignore[misc]
    """An entry feedgen has already rendered (with its extensions), kept as its element alone, not
    the fields it came from (a fifth less memory): every document it goes into gets a copy, as an
    lxml element has one parent. The extensions a FeedGenerator registers on it go unused."""

    def __init__(self, element: etree._Element) -> None:
        super().__init__()
        self.element = element

    def atom_entry(self, extensions: bool = True) -> etree._Element:
        return copy.deepcopy(self.element)

    def rss_entry(self, extensions: bool = True) -> etree._Element:
        return copy.deepcopy(self.element)


def _entry(fmt: str, story: Story, context: FeedContext) -> RenderedEntry:
    """The story's entry for `fmt` ("atom" or "rss"), from the cache when it was rendered from an
    equal story with the same base URL and topic titles."""
    titles = tuple(context.topic_title(slug) for slug in story.topics)
    return _rendered_entry(fmt, story, context.base_url, titles, _offsets(story))


def clear_entry_cache() -> None:
    """Forget every rendered entry and JSON item: the next documents render theirs afresh."""
    _rendered_entry.cache_clear()
    _json_item.cache_clear()


def _offsets(story: Story) -> tuple[timedelta | None, ...]:
    """The UTC offsets of the dates an entry prints. Datetimes at the same instant compare (and
    hash) equal whatever their offset, so a cache key needs these too."""
    first = story.first
    feed_updated = first.source_feed_updated.utcoffset() if first.source_feed_updated else None
    return story.updated.utcoffset(), first.published.utcoffset(), feed_updated


@functools.lru_cache(maxsize=ENTRY_CACHE_SIZE)
def _rendered_entry(
    fmt: str,
    story: Story,
    base_url: str,
    titles: tuple[str, ...],
    offsets: tuple[timedelta | None, ...],  # only part of the key (see _offsets)
) -> RenderedEntry:
    if fmt == "atom":
        return RenderedEntry(_atom_entry(story, base_url, titles).atom_entry())
    return RenderedEntry(_rss_entry(story, titles).rss_entry())


def _atom_entry(story: Story, base_url: str, titles: tuple[str, ...]) -> FeedEntry:
    first = story.first
    entry = FeedEntry()
    entry.register_extension("wiresource", FullSourceExtension, atom=True, rss=False)
    entry.id(entry_id(story))
    entry.title(xml_safe(first.title))
    if first.link:
        entry.link(href=first.link, rel="alternate", type="text/html")
    entry.published(first.published)
    entry.updated(story.updated)
    entry.author({"name": byline(first)})
    summary, content = _texts(story)
    entry.summary(summary, type="html")
    if content is not None:
        entry.content(content, type="html")
    elif not first.link:
        # Atom needs an alternate link or content; a report without a link carries its text as content.
        entry.content(summary, type="html")
    if first.source_rights:
        entry.rights(xml_safe(first.source_rights))
    if story.topics:
        scheme = base_url + "feeds/topics/"
        entry.category(
            [{"term": slug, "label": title, "scheme": scheme} for slug, title in zip(story.topics, titles, strict=True)]
        )
    entry.wiresource.set(
        id=first.source_feed_id or first.source_url,
        title=first.source,
        updated=first.source_feed_updated.isoformat() if first.source_feed_updated else None,
        rights=first.source_rights,
        self_link=first.source_url,
        alternate=first.source_feed_link,
    )
    return entry


def _rss_entry(story: Story, titles: tuple[str, ...]) -> FeedEntry:
    first = story.first
    entry = FeedEntry()
    entry.register_extension("dc", DcEntryExtension, atom=False, rss=True)
    entry.guid(entry_id(story), permalink=False)
    entry.title(xml_safe(first.title))
    if first.link:
        entry.link(href=first.link)
    entry.description(_texts(story)[0])
    entry.pubDate(first.published)
    # RSS's own <author> must be an e-mail address; dc:creator takes a name.
    entry.dc.dc_creator(byline(first))
    if story.topics:
        entry.category([{"term": slug, "label": title} for slug, title in zip(story.topics, titles, strict=True)])
    entry.source(url=first.source_url, title=xml_safe(first.source))
    return entry


@functools.lru_cache(maxsize=ENTRY_CACHE_SIZE)
def _json_item(story: Story, offsets: tuple[timedelta | None, ...]) -> dict[str, Any]:
    """The story's JSON Feed item, shared by every document it is in (so never to be changed).
    `offsets` is only part of the cache key (see _offsets)."""
    first = story.first
    item: dict[str, Any] = {"id": entry_id(story)}
    if first.link:
        item["url"] = first.link
    item["title"] = xml_safe(first.title)
    summary, content = _texts(story)
    item["content_html"] = summary if content is None else content
    item["date_published"] = first.published.isoformat()
    item["date_modified"] = story.updated.isoformat()
    item["authors"] = [{"name": byline(first)}]
    if story.topics:
        item["tags"] = list(story.topics)
    return item


def byline(report: Item) -> str:
    """Whom an entry credits: the report's author by name, else its outlet. Never an e-mail
    address: parsing drops them, and this drops those of authors stored before it did."""
    return xml_safe((author_name(report.author) if report.author else None) or report.source)


def republished(report: Item) -> tuple[str, str]:
    """A report's (summary, content) HTML as far as its source's rights mode allows: everything
    ("full"), the first SUMMARY_CHARS characters as plain text ("summary"), or nothing ("title")."""
    if report.rights_mode == "title":
        return "", ""
    if report.rights_mode == "summary":
        text = " ".join(plain_text(report.summary or report.content).split())
        if len(text) > SUMMARY_CHARS:
            text = text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + " …"
        return html.escape(text), ""
    return report.summary, report.content


def _texts(story: Story) -> tuple[str, str | None]:
    """The entry's (summary, content) HTML: the first report's as far as its rights mode allows,
    each with the other outlets credited. The summary falls back to the headline; the content is
    None when there is none to republish."""
    first = story.first
    summary, content = republished(first)
    credits = _credits(story)
    return (
        xml_safe((summary or html.escape(first.title)) + credits),
        xml_safe(content + credits) if content else None,
    )


def _credits(story: Story) -> str:
    """'Also reported by' with a link to each other outlet's copy, one mention per outlet."""
    others: dict[int, str] = {}
    for report in story.reports[1:]:
        if report.source_id == story.first.source_id or report.source_id in others:
            continue
        name = html.escape(report.source)
        link = html.escape(report.link, quote=True) if report.link else None
        others[report.source_id] = f'<a href="{link}">{name}</a>' if link else name
    if not others:
        return ""
    return "<p>Also reported by: " + ", ".join(others.values()) + "</p>"
