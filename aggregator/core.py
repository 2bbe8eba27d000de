"""The Aggregator facade: one installation's sources, polls, outputs and reading, for the entry
points (CLI, daemon, web), which call these methods and nothing below them.

    due sources -> update.pipeline (fetch -> parse -> prepare -> match -> store -> schedule)
                -> outputs (every feed, archive pages, WebSub)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from aggregator import identity, stories
from aggregator.config import SLUG_PATTERN, Settings
from aggregator.exceptions import AlreadySubscribedError, ConfigError, InvalidURLError, ParseError, StorageError
from aggregator.opml import OpmlFeed, parse_opml, render_opml
from aggregator.outputs import Outputs, output_files
from aggregator.schedule import Decision, PollResult
from aggregator.store import Store, from_text
from aggregator.text import plain_text
from aggregator.topics import TopicMatcher
from aggregator.topics import Verdict as TopicVerdict
from aggregator.types import (
    RIGHTS_MODES,
    FetchResult,
    Item,
    ItemFacts,
    ParsedFeed,
    PollSummary,
    Source,
    Story,
    Topic,
)
from aggregator.update.pipeline import Clock, Fetcher, Pipeline
from aggregator.update.storing import hours_between

if TYPE_CHECKING:
    from aggregator.update.pool import ParserPool

log = logging.getLogger(__name__)
MAX_EVERY_MINUTES = 60 * 24 * 366 * 10  # ten years between polls: more is a typing error


@dataclass(frozen=True)
class TopicInfo:
    """A topic as `offthewire topics` shows it."""

    topic: Topic
    item_count: int
    configured: bool


@dataclass(frozen=True)
class FeedCheck:
    """`add --test`: what one fetch of a feed found, and when it would be polled next."""

    fetch: FetchResult
    parsed: ParsedFeed | None
    error: str | None
    decision: Decision


@dataclass(frozen=True)
class ImportSummary:
    """What `import-opml` did: sources added, URLs already subscribed, outlines that were not feeds."""

    added: tuple[Source, ...]
    skipped: tuple[str, ...]
    invalid: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Verdict:
    """`offthewire why`: the rules' answer for two items, and whether they were stored as one story."""

    first: Item
    second: Item
    same: bool
    reason: str
    score: float
    stored_together: bool


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Aggregator:
    """One offthewire installation: its settings, its database and its output directory."""

    def __init__(self, settings: Settings, store: Store, clock: Clock = utc_now, fetcher: Fetcher | None = None):
        self.settings = settings
        self.store = store
        self.clock = clock
        self.fetcher = fetcher
        self.matcher = TopicMatcher(settings.topics, settings.global_exclude)
        self._parsers: ParserPool | None = None
        self.pipeline = Pipeline(settings, store, self.matcher, clock, fetcher, self._parser_pool)
        self.outputs = Outputs(store, self._parser_pool)

    def reconfigure(self, settings: Settings) -> None:
        """Use new settings (a reloaded config) from the next poll or publish on."""
        self.settings = settings
        self.matcher = TopicMatcher(settings.topics, settings.global_exclude)
        self.pipeline.reconfigure(settings, self.matcher)

    def close(self) -> None:
        self.pipeline.storing.save()
        if self._parsers is not None:
            self._parsers.close()
        self.store.close()

    def __enter__(self) -> Aggregator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Sources

    def add_source(
        self,
        url: str,
        name: str | None = None,
        topics: Sequence[str] = (),
        every_minutes: int | None = None,
        rights: str = "full",
    ) -> Source:
        """Subscribe to a feed URL (no network needed); raises InvalidURLError or AlreadySubscribedError.
        `rights` is how much of its text the outputs carry (one of RIGHTS_MODES)."""
        normalised = identity.normalise_source_url(url)
        refusal = identity.refused_target(normalised, self.settings.poll.block_private)
        if refusal:
            raise InvalidURLError(f"{url!r} is refused: {refusal}.")
        _check_slugs(topics)
        if every_minutes is not None and not 0 < every_minutes <= MAX_EVERY_MINUTES:
            raise ConfigError(
                f"--every must be a positive number of minutes up to {MAX_EVERY_MINUTES:,}, not {every_minutes}."
            )
        _check_rights(rights)
        return self.store.add_source(normalised, name, list(dict.fromkeys(topics)), every_minutes, self.clock(), rights)

    def find_source(self, url_or_id: str) -> Source:
        """A subscribed source by id or URL; raises NotFoundError."""
        try:
            normalised: str | None = identity.normalise_source_url(url_or_id)
        except InvalidURLError:
            normalised = None
        return self.store.find_source(url_or_id, normalised)

    def remove_source(self, url_or_id: str, keep_items: bool = False) -> tuple[Source, int]:
        """Unsubscribe; returns the source and how many of its items were deleted."""
        source = self.find_source(url_or_id)
        deleted = self.store.remove_source(source.id, keep_items, self.clock())
        if not keep_items:
            self.pipeline.storing.forget_source(source.id)
        return source, deleted

    def sources(self) -> list[Source]:
        """Every subscribed source with its health."""
        return self.store.sources()

    def try_feed(self, url: str) -> FeedCheck:
        """Fetch and parse a feed once without subscribing: what `add --test` reports."""
        probe = Source(id=0, url=identity.normalise_source_url(url))
        [result] = asyncio.run(self.pipeline.fetcher_in_use()([probe], self.settings.poll, None))
        now = self.clock()
        from aggregator.parse import parse_feed

        try:
            if result.error:
                raise ParseError(result.error)
            parsed = parse_feed(
                result.body or b"", result.headers, result.final_url, now, self.settings.poll.max_entries
            )
        except ParseError as exc:
            outcome = PollResult(status=result.status, failed=True, error_count=1, headers=result.headers)
            return FeedCheck(result, None, str(exc), self.pipeline.decide(now, probe, outcome))
        outcome = PollResult(
            status=result.status,
            headers=result.headers,
            hints=parsed.meta.hints,
            recent_published=[e.published for e in parsed.entries if e.published],
        )
        return FeedCheck(result, parsed, None, self.pipeline.decide(now, probe, outcome))

    def set_rights(self, url_or_id: str, mode: str) -> Source:
        """Change how much of a source's text the outputs carry; the feeds follow at the next publish."""
        _check_rights(mode)
        source = self.find_source(url_or_id)
        self.store.set_rights(source.id, mode)
        return self.store.source(source.id)

    def set_paused(self, url_or_id: str, paused: bool) -> Source:
        """Stop polling a source (its items stay), or start again: a resumed source is due at once."""
        source = self.find_source(url_or_id)
        self.store.set_enabled(source.id, not paused)
        return self.store.source(source.id)

    def import_opml(self, data: bytes, name: str, on_feed: Callable[[OpmlFeed], None] | None = None) -> ImportSummary:
        """Subscribe to every feed of an OPML list; folders and categories become topics."""
        added: list[Source] = []
        skipped: list[str] = []
        invalid: list[tuple[str, str]] = []
        for feed in parse_opml(data, name):
            try:
                added.append(self.add_source(feed.url, name=feed.title, topics=feed.topics))
            except AlreadySubscribedError:
                skipped.append(feed.url)
            except InvalidURLError as exc:
                invalid.append((feed.url, str(exc)))
            if on_feed:
                on_feed(feed)
        return ImportSummary(tuple(added), tuple(skipped), tuple(invalid))

    def export_opml(self) -> bytes:
        """Every source as OPML 2.0, topics as categories (the same document as /sources.opml)."""
        created = from_text(self.store.meta("created_at")) or self.clock()
        return render_opml(self.sources(), f"{self.settings.output.title}: subscriptions", created)

    # Polling

    def poll(
        self,
        names: Sequence[str] = (),
        every_source: bool = False,
        on_result: Callable[[FetchResult], None] | None = None,
        publish: bool = True,
    ) -> PollSummary:
        """Fetch the due sources (or all, or those named) once, store what is new, then publish
        (with `publish=False`, only when something changed)."""
        self.store.check()
        if names:
            sources = list({s.id: s for s in (self.find_source(n) for n in names)}.values())
        elif every_source:
            sources = [s for s in self.store.sources(counted=False) if s.enabled]
        else:
            sources = self.store.due_sources(self.clock())
        # Stored items follow the current rules before new ones join them (on a new database this
        # only records the rules, so the first publish does not re-topic everything just stored).
        self._apply_topic_rules()
        summary = self.pipeline.poll(sources, on_result)
        if summary.interrupted:
            return summary
        outcomes = summary.outcomes
        changed = any(o.new or o.updated for o in outcomes) or self.store.outputs_stale()
        published: list[Path] = []
        publish_seconds = None
        if publish or changed:
            started = time.perf_counter()
            published = self.publish()
            publish_seconds = time.perf_counter() - started
        return dataclasses.replace(summary, published=tuple(published), publish_seconds=publish_seconds)

    def explain(self, url_or_id: str) -> Source:
        """The source with its scheduling decision: when the next poll is, which rule won, what was weighed."""
        return self.find_source(url_or_id)

    def check(self) -> None:
        """Raise StorageError when the database is gone, replaced or not answering."""
        self.store.check()

    def created_at(self) -> datetime:
        """When this installation's database was made."""
        return from_text(self.store.meta("created_at")) or self.clock()

    def cancel_poll(self) -> None:
        """Cancel the fetches of a poll running in another thread (used at shutdown)."""
        self.pipeline.cancel_poll()

    def _parser_pool(self) -> ParserPool:
        if self._parsers is None:
            from aggregator.update.pool import ParserPool

            self._parsers = ParserPool()
        return self._parsers

    # Reading

    def items(self, topic: str | None = None, source: str | None = None, limit: int = 50) -> list[Item]:
        """Items newest first, optionally of one topic or one source (URL or id)."""
        source_id = self.find_source(source).id if source else None
        return self.store.items(topic=topic, source_id=source_id, limit=limit)

    def search(self, query: str, topic: str | None = None, source: str | None = None, limit: int = 50) -> list[Item]:
        """Items whose headline or summary match `query`, best match first. The query is SQLite
        FTS5's: words (all must match), "an exact phrase", prefix*, AND / OR / NOT, parentheses.
        A query that is not valid syntax (say "rare-earth") is searched as its plain words."""
        if not query.strip():
            raise ConfigError("The search is empty; give one or more words to look for.")
        source_id = self.find_source(source).id if source else None
        return self.store.search(query, topic, source_id, limit)

    def stories(self, topic: str | None = None, limit: int | None = None) -> list[Story]:
        """Stories newest first, each with every report."""
        return self.store.latest_stories(topic, limit or self.settings.output.limit)

    def prune(self, vacuum: bool = False) -> int:
        """Apply retention now: items older than `[retention] days` go (each source keeps its newest
        `keep_per_source`), leaving tombstones; then publish. Returns how many items were pruned."""
        retention = self.settings.retention
        now = self.clock()
        edge = now - timedelta(days=retention.days)
        pruned = self.store.prune(edge, retention.keep_per_source, now)
        self.pipeline.forget_publishing_rates()
        if pruned:
            self.pipeline.storing.pruned(edge)
        if vacuum and pruned:
            self.store.vacuum()
        if pruned:
            self.publish()
        return pruned

    def why(self, first_id: int, second_id: int) -> Verdict:
        """Whether two stored items are one story, and why (the rules `poll` applies)."""
        a, b = self.store.item(first_id), self.store.item(second_id)
        apart = abs(a.published - b.published)
        window = timedelta(hours=self.settings.dedupe.window_hours)
        link_a, link_b = identity.canonical_url(a.link), identity.canonical_url(b.link)
        head_a = stories.headline(a.title, plain_text(a.summary))
        index = self.pipeline.storing.index_for(self.clock(), self.settings.dedupe)
        names = index.rare_names(stories.name_keys(head_a), a.published.timestamp())
        match = stories.compare(
            head_a,
            stories.headline(b.title, plain_text(b.summary)),
            hours_between(a.published, b.published) if b.story_id in names.stories else None,
            names.common,
            names.singular,
        )
        if apart > window:
            same, reason = False, f"published {apart} apart, more than [dedupe] window_hours"
        elif link_a and link_a == link_b:
            same, reason = True, f"both link to the same article ({link_a})"
        elif a.source_id == b.source_id and apart > timedelta(hours=stories.REVISION_HOURS):
            same, reason = False, f"one outlet's reports {apart} apart: a recurring report, not a revision"
        else:
            if a.source_id == b.source_id:
                match = stories.as_revision(match)
            same, reason = match.same, match.reason
        return Verdict(a, b, same, reason, match.score, a.story_id == b.story_id)

    def test_topics(
        self,
        title: str,
        summary: str = "",
        source: str | None = None,
        categories: Sequence[str] = (),
        language: str | None = None,
    ) -> list[TopicVerdict]:
        """Which topics an item with this headline would join, and the rule that decided each."""
        origin = self.find_source(source) if source else None
        facts = ItemFacts(
            title=title,
            summary_html=html.escape(summary),
            source_url=origin.url if origin else "",
            source_name=origin.display_name if origin else "",
            source_topics=origin.topics if origin else (),
            categories=tuple(categories),
            language=language,
        )
        return self.matcher.explain(facts)

    def topics(self) -> list[TopicInfo]:
        """Configured topics, then topics only named by sources, with their item counts."""
        counts = self.store.topic_counts()
        configured = {t.slug: t for t in self.settings.topics}
        found = [TopicInfo(t, counts.get(t.slug, 0), True) for t in self.settings.topics]
        extra = (self.store.source_topics() | set(counts)) - set(configured)
        found += [TopicInfo(_implicit_topic(slug), counts.get(slug, 0), False) for slug in sorted(extra)]
        return found

    # Publishing

    def publish(self) -> list[Path]:
        """Rewrite every output feed from the database; returns the files whose content changed."""
        self._apply_topic_rules()
        try:
            return self.outputs.publish(self.settings.output, self.feed_topics(), self.clock())
        except StorageError:
            # The feeds are behind the database until a publish succeeds: every poll tries again.
            with contextlib.suppress(StorageError):  # a database that cannot take the mark either
                self.store.mark_outputs_stale()
            raise

    def feed_topics(self) -> dict[str, Topic]:
        """The topics that get a feed: the configured ones, then those sources were added with.
        (Stored items carry no other: a change of rules re-applies them to every item.)"""
        topics = {topic.slug: topic for topic in self.settings.topics}
        for slug in sorted(self.store.source_topics() - set(topics)):
            topics[slug] = _implicit_topic(slug)
        return topics

    def _apply_topic_rules(self) -> None:
        """When the configured topics changed since the last publish, re-evaluate every item."""
        rules = json.dumps([dataclasses.asdict(t) for t in self.settings.topics] + [list(self.settings.global_exclude)])
        if self.store.optional_meta("topic_rules") == rules:
            return
        changed = self.store.retopic_items(self.matcher.topics_for)
        self.store.set_meta("topic_rules", rules)
        log.info("topic rules changed: %d items moved between topics", changed)

    def output_files(self) -> list[Path]:
        """The merged feed's file, then each topic's."""
        return output_files(self.settings.output, [info.topic.slug for info in self.topics()])


def make_aggregator(settings: Settings, clock: Clock = utc_now, fetcher: Fetcher | None = None) -> Aggregator:
    """An Aggregator over the database named in `settings`, created or upgraded as needed."""
    return Aggregator(settings, Store(settings.storage.target), clock=clock, fetcher=fetcher)


def _implicit_topic(slug: str) -> Topic:
    return Topic(slug=slug, title=slug.replace("-", " ").title())


def _check_rights(mode: str) -> None:
    if mode not in RIGHTS_MODES:
        raise ConfigError(f"The rights mode {mode!r} is not one of {', '.join(RIGHTS_MODES)}.")


def _check_slugs(slugs: Sequence[str]) -> None:
    for slug in slugs:
        if not SLUG_PATTERN.match(slug):
            raise ConfigError(f"Topic {slug!r} is not a valid slug: use lower-case letters, digits and dashes.")
