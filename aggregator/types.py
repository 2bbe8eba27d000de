"""The vocabulary shared by every module: frozen dataclasses, no behaviour."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aggregator.stories import Headline


@dataclass(frozen=True)
class Topic:
    """A topic: a slug, a title and the rules that pull items into it (see topics.py for the order)."""

    slug: str
    title: str
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    @property
    def has_rules(self) -> bool:
        return bool(self.keywords or self.patterns or self.sources or self.categories)


@dataclass(frozen=True)
class ItemFacts:
    """What topic rules look at in an item."""

    title: str
    summary_html: str = ""
    source_url: str = ""
    source_name: str = ""
    source_topics: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    language: str | None = None
    summary_text: str | None = None  # the summary as plain text, when the caller has it already


@dataclass(frozen=True)
class FeedHints:
    """How often the publisher says its feed changes, and when not to poll it (UTC hours, weekdays 0-6)."""

    ttl_minutes: int | None = None
    update_minutes: float | None = None
    skip_hours: frozenset[int] = frozenset()
    skip_days: frozenset[int] = frozenset()


# How much of a source's text offthewire republishes (wire terms often forbid full text): "full"
# text, a short plain-text "summary", or the "title" and link alone.
RIGHTS_MODES = ("full", "summary", "title")


@dataclass(frozen=True)
class Source:
    """A subscribed feed with its validators, schedule and health."""

    id: int
    url: str
    name: str | None = None
    topics: tuple[str, ...] = ()
    every_minutes: int | None = None
    enabled: bool = True
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_fetched_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    last_warning: str | None = None
    error_count: int = 0
    next_fetch_at: datetime | None = None
    feed_title: str | None = None
    feed_link: str | None = None
    item_count: int = 0
    hints: FeedHints = field(default_factory=FeedHints)
    next_reason: str | None = None
    schedule_considered: tuple[str, ...] = ()
    rights: str = "full"

    @property
    def display_name(self) -> str:
        """The name a person sees: the one given at `add`, else the feed's title, else the URL."""
        return self.name or self.feed_title or self.url


@dataclass(frozen=True)
class FetchResult:
    """What one HTTP fetch produced: a body, a 304, or an error."""

    url: str
    final_url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    error: str | None = None
    moved_to: str | None = None
    elapsed: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


@dataclass(frozen=True)
class FeedMeta:
    """Feed-level facts from a parsed document."""

    title: str | None = None
    link: str | None = None
    feed_id: str | None = None
    version: str = ""
    hints: FeedHints = field(default_factory=FeedHints)
    rights: str | None = None
    updated: datetime | None = None


@dataclass(frozen=True)
class Entry:
    """One parsed entry, sanitised; dates are UTC, None when absent or not trustworthy."""

    guid: str | None
    title: str
    link: str | None
    summary: str = ""
    content: str = ""
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    categories: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed document: its metadata, entries, and a warning when the feed was survivably broken."""

    meta: FeedMeta
    entries: tuple[Entry, ...]
    warning: str | None = None


@dataclass(frozen=True)
class Item:
    """One stored entry of one source."""

    id: int
    source_id: int
    source: str
    title: str
    link: str | None
    summary: str
    content: str
    author: str | None
    published: datetime
    updated: datetime
    topics: tuple[str, ...]
    story_id: int
    source_url: str = ""
    source_feed_link: str | None = None
    source_feed_id: str | None = None
    source_feed_updated: datetime | None = None
    source_rights: str | None = None
    rights_mode: str = "full"


@dataclass(frozen=True)
class Story:
    """The same news across sources: its first report and every other report, oldest first."""

    id: int
    key: str
    published: datetime
    updated: datetime
    reports: tuple[Item, ...]
    topics: tuple[str, ...] = ()

    @property
    def first(self) -> Item:
        return self.reports[0]


@dataclass(frozen=True)
class UpdateOutcome:
    """What polling one source did."""

    source_id: int
    url: str
    name: str
    status: int | None = None
    new: int = 0
    updated: int = 0
    not_modified: bool = False
    error: str | None = None
    warning: str | None = None
    next_at: datetime | None = None
    merged: int = 0
    elapsed: float = 0.0


@dataclass(frozen=True)
class PollSummary:
    """What one poll run did, across sources."""

    outcomes: tuple[UpdateOutcome, ...]
    published: tuple[Path, ...] = ()
    publish_seconds: float | None = None
    network_down: bool = False
    interrupted: bool = False

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def updated(self) -> int:
        return sum(o.updated for o in self.outcomes)

    @property
    def not_modified(self) -> int:
        return sum(1 for o in self.outcomes if o.not_modified)

    @property
    def failed(self) -> tuple[UpdateOutcome, ...]:
        return tuple(o for o in self.outcomes if o.error)


# Storing: what the pipeline hands the store, and what the store gives back.


@dataclass(frozen=True)
class NewItem:
    """An item ready to store: the entry's fields plus its identity, topics and story match data."""

    key: str
    title: str
    link: str | None
    canonical_link: str | None
    summary: str
    content: str
    author: str | None
    published: datetime | None
    updated: datetime | None
    content_hash: str
    topics: tuple[str, ...]
    story_key: str
    match_keys: tuple[int, ...] = ()
    name_keys: tuple[tuple[str, int], ...] = ()  # (name, key), looked up within DEVELOPING_HOURS (stories.name_keys)
    categories: tuple[str, ...] = ()
    language: str | None = None
    match: Headline | None = None  # the headline prepared for story matching, when already made


@dataclass(frozen=True)
class StoredItem:
    """What the store holds of an item a source sent before: enough to tell and count a revision."""

    id: int
    content_hash: str
    updated: datetime | None
    story_id: int
    revisions: int
    revisions_since: datetime | None


@dataclass(frozen=True)
class Revision:
    """How a changed item is stored: its new `updated`, its revisions today (counted since `since`),
    and whether its story shows as updated in the feeds."""

    updated: datetime
    revisions: int
    since: datetime
    moves_story: bool


@dataclass(frozen=True)
class WindowReport:
    """A stored item as the story index takes it in: its identity, story, headline and link."""

    item_id: int
    source_id: int
    key: str
    story_id: int
    title: str
    summary: str
    published: datetime
    canonical_link: str | None


@dataclass(frozen=True)
class SaveCounts:
    """What saving one poll's items did: new items, changed items, new items that joined a known story."""

    new: int
    updated: int
    merged: int


class Unchanged(enum.Enum):
    """A field of a FetchRecord that the poll leaves as it was."""

    KEEP = "keep"


KEEP = Unchanged.KEEP


@dataclass(frozen=True)
class FetchRecord:
    """What one poll learnt about a source, for `Store.record_fetch`: every field left KEEP is not
    written (a 304 rewrites almost nothing)."""

    last_fetched_at: datetime | Unchanged = KEEP
    last_status: int | Unchanged | None = KEEP
    last_error: str | Unchanged | None = KEEP
    last_warning: str | Unchanged | None = KEEP
    error_count: int | Unchanged = KEEP
    next_fetch_at: datetime | Unchanged | None = KEEP
    next_reason: str | Unchanged | None = KEEP
    schedule_considered: tuple[str, ...] | Unchanged = KEEP
    hints: FeedHints | Unchanged = KEEP
    etag: str | Unchanged | None = KEEP
    last_modified: str | Unchanged | None = KEEP
    body_hash: str | Unchanged | None = KEEP
    feed_title: str | Unchanged | None = KEEP
    feed_link: str | Unchanged | None = KEEP
    feed_id: str | Unchanged | None = KEEP
    feed_updated: datetime | Unchanged | None = KEEP
    feed_rights: str | Unchanged | None = KEEP
    enabled: bool | Unchanged = KEEP
