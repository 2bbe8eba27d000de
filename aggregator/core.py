"""The Aggregator facade: the update pipeline and publishing, the only caller of I/O.

    due sources -> fetch -> parse -> dedupe -> topics -> store -> schedule, then publish

Entry points (CLI, daemon, web) call these methods and nothing below them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import html
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator import identity, stories
from aggregator.config import SLUG_PATTERN, PollSettings, Settings
from aggregator.exceptions import AlreadySubscribedError, ConfigError, InvalidURLError, ParseError, StorageError
from aggregator.opml import OpmlFeed, parse_opml, render_opml
from aggregator.outputs import Outputs, output_files
from aggregator.prepare import prepare_changed_items, prepare_items
from aggregator.schedule import Decision, PollResult, jitter_chance, next_check
from aggregator.store import NewItem, SaveCounts, Store, StoredReport, from_text
from aggregator.text import plain_text
from aggregator.topics import TopicMatcher
from aggregator.topics import Verdict as TopicVerdict
from aggregator.types import (
    RIGHTS_MODES,
    Entry,
    FeedHints,
    FetchResult,
    Item,
    ItemFacts,
    ParsedFeed,
    PollSummary,
    Source,
    Story,
    Topic,
    UpdateOutcome,
)

if TYPE_CHECKING:
    from aggregator.update.pool import ParserPool, Prepared
    from aggregator.update.writer import Stored

log = logging.getLogger(__name__)
HEADLINE_CACHE = 2_000  # prepared headlines kept for story matching (about 13 MB when full)
MAX_EVERY_MINUTES = 60 * 24 * 366 * 10  # ten years between polls: more is a typing error
PARALLEL_PARSE_MIN_SOURCES = 8  # below this, parsing inline is quicker than starting the pool

Fetcher = Callable[
    [Sequence[Source], PollSettings, Callable[[FetchResult], Awaitable[None] | None] | None],
    Coroutine[Any, Any, list[FetchResult]],
]
Clock = Callable[[], datetime]
# A fetched answer ready to store: its source, and what the pool made of its body (None: nothing
# yet, the body is parsed when stored; a ParseError: the body is not a feed).
_Fetched = tuple[Source, FetchResult, "Prepared | ParseError | None"]


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
        self._running_fetch: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any] | None] | None = None
        self._headlines: OrderedDict[tuple[str, str], stories.Headline] = OrderedDict()
        self._parsers: ParserPool | None = None
        # Per source, the versions (identity and content) of the entries its last stored feed
        # carried: those are not prepared again (see prepare_changed_items).
        self._stored_versions: dict[int, frozenset[int]] = {}
        # Per source, its newest items' publication times (for its schedule), until it stores more.
        self._recent_published: dict[int, list[datetime]] = {}
        self.outputs = Outputs(store, self._parser_pool)

    def reconfigure(self, settings: Settings) -> None:
        """Use new settings (a reloaded config) from the next poll or publish on."""
        self.settings = settings
        self.matcher = TopicMatcher(settings.topics, settings.global_exclude)

    def close(self) -> None:
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
        return source, self.store.remove_source(source.id, keep_items, self.clock())

    def sources(self) -> list[Source]:
        """Every subscribed source with its health."""
        return self.store.sources()

    def try_feed(self, url: str) -> FeedCheck:
        """Fetch and parse a feed once without subscribing: what `add --test` reports."""
        probe = Source(id=0, url=identity.normalise_source_url(url))
        [result] = asyncio.run(self._fetcher()([probe], self.settings.poll, None))
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
            return FeedCheck(result, None, str(exc), self._decide(now, probe, outcome))
        outcome = PollResult(
            status=result.status,
            headers=result.headers,
            hints=parsed.meta.hints,
            recent_published=[e.published for e in parsed.entries if e.published],
        )
        return FeedCheck(result, parsed, None, self._decide(now, probe, outcome))

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
        from aggregator.update.writer import StoreWriter

        # Each feed is stored as soon as it is fetched and parsed, while the rest are still on the way.
        writer: StoreWriter[_Fetched, UpdateOutcome] = StoreWriter(
            self.store, lambda job: self._store_result(job[0], job[1], prepared=job[2])
        )
        results: list[FetchResult] = []
        interrupted = False
        try:
            results = asyncio.run(self._fetch(sources, on_result, writer.put)) if sources else []
        except asyncio.CancelledError:
            interrupted = True
        finally:
            try:
                stored = {outcome.source_id: outcome for outcome in writer.finish()}
            except BaseException:
                self._stored_versions.clear()  # a failed batch is rolled back: what it stored is not
                raise
        if interrupted:
            log.warning("poll of %d sources cancelled before it finished; %d were stored", len(sources), len(stored))
            return PollSummary(outcomes=tuple(stored.values()), interrupted=True)
        # Every source unreachable at once is the network, not the sources: nobody is penalised.
        network_down = len(results) >= 2 and all(r.error and r.status is None for r in results)
        if network_down:
            log.error("none of the %d sources could be reached: the network looks down", len(results))
        # The rest (failures, 304s, unchanged bodies: quick to store) are stored last together,
        # once it is known whether the network was down.
        with self.store.batch() as checkpoint:
            for source, result in zip(sources, results, strict=True):
                if source.id not in stored:
                    stored[source.id] = self._store_result(source, result, network_down)
                    checkpoint()
        outcomes = tuple(stored[source.id] for source in sources)
        self._slow_down_rate_limited_hosts(outcomes)
        changed = any(o.new or o.updated for o in outcomes) or self.store.outputs_stale()
        published: list[Path] = []
        publish_seconds = None
        if publish or changed:
            started = time.perf_counter()
            published = self.publish()
            publish_seconds = time.perf_counter() - started
        return PollSummary(
            outcomes=outcomes,
            published=tuple(published),
            publish_seconds=publish_seconds,
            network_down=network_down,
        )

    async def _fetch(
        self,
        sources: Sequence[Source],
        on_result: Callable[[FetchResult], None] | None,
        ready: Callable[[_Fetched, Stored], None],
    ) -> list[FetchResult]:
        """Fetch the sources; each new body goes to `ready` as soon as it can be stored, with a
        callback for when it is. In a poll of many, each new body is first parsed and its items
        prepared in the process pool, while the rest are still fetched. A fetch keeps its place
        until its body is stored, so bodies never pile up in memory faster than they are stored."""
        loop = asyncio.get_running_loop()
        self._running_fetch = (loop, asyncio.current_task())
        from aggregator.update.pool import parse_and_prepare

        wide = len(sources) >= PARALLEL_PARSE_MIN_SOURCES
        broken = 0
        by_url = {source.url: source for source in sources}
        now = self.clock()

        def parsed(job: tuple[Source, FetchResult], stored: Stored, future: asyncio.Future[Prepared]) -> None:
            nonlocal broken
            error = None if future.cancelled() else future.exception()
            if isinstance(error, BrokenProcessPool):
                broken += 1  # a worker died (out of memory, killed): this feed is parsed inline instead
            if isinstance(error, ParseError):
                ready((*job, error), stored)
            else:  # anything else the worker raised is raised again by parsing inline
                ready((*job, None if error or future.cancelled() else future.result()), stored)

        def fetched(result: FetchResult) -> asyncio.Future[None] | None:
            if on_result:
                on_result(result)
            source = by_url.get(result.url)
            if source is None or not _needs_parsing(source, result):
                return None  # nothing new to store: a failure, a 304, the same bytes as last time
            done: asyncio.Future[None] = loop.create_future()

            def stored() -> None:  # called in the writer thread
                with contextlib.suppress(RuntimeError):  # the loop is closed: the poll was cancelled
                    loop.call_soon_threadsafe(_settle, done)

            if wide:
                job = functools.partial(
                    parse_and_prepare,
                    result.body or b"",
                    result.headers,
                    result.final_url,
                    now,
                    source,
                    self.matcher,
                    self._stored_versions.get(source.id, frozenset()),
                    self.settings.poll.max_entries,
                )
                future = self._parser_pool().prepare(loop, job)
                future.add_done_callback(functools.partial(parsed, (source, result), stored))
            else:
                ready((source, result, None), stored)
            return done

        try:
            results = await self._fetcher()(sources, self.settings.poll, fetched)
        finally:
            self._running_fetch = None
        if broken:
            log.warning("the parser processes stopped; %d feeds were parsed in the main process instead", broken)
            self._parser_pool().close()
        return results

    def _parser_pool(self) -> ParserPool:
        if self._parsers is None:
            from aggregator.update.pool import ParserPool

            self._parsers = ParserPool()
        return self._parsers

    def _fetcher(self) -> Fetcher:
        if self.fetcher is None:
            # Imported when first needed, like feedparser and feedgen below: `add`, `list` and
            # `items` answer without loading the HTTP client or the feed libraries.
            from aggregator.fetch import fetch_all

            self.fetcher = fetch_all
        return self.fetcher

    def cancel_poll(self) -> None:
        """Cancel the fetches of a poll running in another thread (used at shutdown)."""
        running = self._running_fetch
        if running and running[1]:
            running[0].call_soon_threadsafe(running[1].cancel)

    def _store_result(
        self,
        source: Source,
        result: FetchResult,
        network_down: bool = False,
        prepared: Prepared | ParseError | None = None,
    ) -> UpdateOutcome:
        """Store one fetch's result as a unit of its own: whatever goes wrong storing, matching or
        indexing it is undone, becomes that source's stored error, and the poll goes on with the
        other sources. Only a database that cannot be written stops the poll."""
        # A body's items are many writes, undone together; any other result writes one row.
        unit = self.store.transaction() if result.body is not None or result.moved_to else contextlib.nullcontext()
        try:
            with unit:
                return self._absorb(source, result, network_down, prepared)
        except StorageError:
            raise
        except Exception as exc:
            log.error("%s (%s) could not be stored", source.display_name, source.url, exc_info=True)
            # What was remembered of this source's last feed was rolled back with it.
            self._stored_versions.pop(source.id, None)
            self._recent_published.pop(source.id, None)
            error = f"its entries could not be stored: {type(exc).__name__}: {exc}"
            return self._failed(source, result, error, self.clock(), network_down=False)

    def _absorb(
        self,
        source: Source,
        result: FetchResult,
        network_down: bool = False,
        prepared: Prepared | ParseError | None = None,
    ) -> UpdateOutcome:
        """Store one fetch's result and schedule the next; a failed fetch or a body that is not a
        feed becomes the source's stored error. `prepared` is what the pool made of the body, when
        it did."""
        now = self.clock()
        if not self.store.source_exists(source.id):
            log.info("%s was removed while it was being polled; its result is dropped", source.url)
            return UpdateOutcome(
                source.id, source.url, source.display_name, result.status, error="removed while polled"
            )
        if result.moved_to and result.moved_to != source.url:
            # 301/308: the publisher moved the feed for good; the old URL stays as an alias.
            log.warning("%s moved permanently to %s", source.url, result.moved_to)
            source = self.store.move_source(source.id, result.moved_to)
            prepared = None  # its items are keyed by the new URL: prepared again below
        if result.error:
            return self._failed(source, result, result.error, now, network_down)
        name = source.display_name
        if result.not_modified:
            log.info("%s: HTTP 304 in %.2f s, not modified", name, result.elapsed)
            return self._unchanged(source, result, now, keep_validators=True)
        body = result.body or b""
        digest = identity.body_hash(body)
        # Same bytes as last time (a server without validators): nothing can have changed.
        if digest == source.body_hash:
            log.info("%s: HTTP %s in %.2f s, same bytes as before", name, result.status, result.elapsed)
            return self._unchanged(source, result, now, body_hash=digest)
        from aggregator.parse import parse_feed

        try:
            if isinstance(prepared, ParseError):
                raise prepared
            if prepared is None:
                parsed = parse_feed(body, result.headers, result.final_url, now, self.settings.poll.max_entries)
                new_items, versions = prepare_changed_items(
                    source, parsed.entries, self.matcher, self._stored_versions.get(source.id, frozenset())
                )
            else:
                parsed, new_items, versions = prepared
        except ParseError as exc:
            return self._failed(source, result, str(exc), now, network_down)
        if parsed.warning:
            log.warning("%s: %s", name, parsed.warning)
        counts = self.save_items(source, new_items, now)
        self._stored_versions[source.id] = versions
        decision = self._healthy(
            source,
            result,
            now,
            parsed.meta.hints,
            body_hash=digest,
            last_warning=parsed.warning,
            feed_title=parsed.meta.title,
            feed_link=parsed.meta.link,
            feed_id=parsed.meta.feed_id,
            feed_updated=parsed.meta.updated,
            feed_rights=parsed.meta.rights,
        )
        name = source.name or parsed.meta.title or source.url
        log.info(
            "%s: HTTP %s in %.2f s, %d new, %d updated", name, result.status, result.elapsed, counts.new, counts.updated
        )
        return UpdateOutcome(
            source.id,
            source.url,
            name,
            result.status,
            counts.new,
            counts.updated,
            merged=counts.merged,
            warning=parsed.warning,
            next_at=decision.at,
            elapsed=result.elapsed,
        )

    def _unchanged(self, source: Source, result: FetchResult, now: datetime, **extra: Any) -> UpdateOutcome:
        decision = self._healthy(source, result, now, source.hints, **extra)
        return UpdateOutcome(
            source.id,
            source.url,
            source.display_name,
            result.status,
            not_modified=True,
            next_at=decision.at,
            elapsed=result.elapsed,
        )

    def prepare_items(self, source: Source, entries: Sequence[Entry]) -> list[NewItem]:
        """Entries of one source with their identity, topics and story-matching keys, ready to store."""
        return prepare_items(source, entries, self.matcher)

    def save_items(self, source: Source, new_items: Sequence[NewItem], now: datetime) -> SaveCounts:
        """Store one source's prepared items: new ones join a story or start one, changed ones are revised."""
        dedupe_settings = self.settings.dedupe
        counts = self.store.save_items(
            source,
            new_items,
            now,
            timedelta(hours=dedupe_settings.window_hours),
            self.choose_story,
            lambda revisions: stories.revision_moves_story(
                dedupe_settings.republish_updates, revisions, dedupe_settings.max_revisions
            ),
            self.link_veto,
        )
        for item in new_items:
            if item.match is not None:
                self._remember_headline((item.title, item.summary), item.match)
        if counts.new or counts.updated:
            self._recent_published.pop(source.id, None)
        return counts

    def choose_story(self, item: NewItem, reports: Sequence[StoredReport]) -> int | None:
        """The candidate story this item's headline (and summary) matches best, if any."""
        mine = item.match or self._headline(item.title, item.summary)
        published = item.published or self.clock()
        # Hours apart only where a rare name is shared: the rule for a story developing applies there.
        apart = [_hours_between(published, r.published) if r.shares_rare_name else None for r in reports]
        common = item.common_names
        return stories.choose_story(
            mine,
            [
                (r.story_id, self._headline(r.title, r.summary), hours)
                for r, hours in zip(reports, apart, strict=True)
                if r.words is None or stories.may_match(mine, r.words, hours, common)
            ],
            common,
        )

    def link_veto(self, item: NewItem, reports: Sequence[StoredReport]) -> bool:
        """Whether an item that links the same page as a story still tells a different event: a live
        page or a weather-warning page reused for other news, when every report of the story is a
        day or more away and names other actors or places."""
        mine = item.match or self._headline(item.title, item.summary)
        published = item.published or self.clock()
        return all(
            r.published is not None
            and abs(published - r.published) >= stories.REUSED_LINK_GAP
            and stories.different_events(mine, self._headline(r.title, r.summary))
            for r in reports
        )

    def _headline(self, title: str, summary_html: str) -> stories.Headline:
        # Syndicated stories are candidates for one new item after another: each stored report's
        # headline is prepared once, not once per comparison (the cold poll benchmark: 54 s -> 15 s).
        key = (title, summary_html)
        found = self._headlines.get(key)
        if found is None:
            found = stories.headline(title, plain_text(summary_html))
        self._remember_headline(key, found)
        return found

    def _remember_headline(self, key: tuple[str, str], head: stories.Headline) -> None:
        # Items just stored are the likeliest candidates for the next ones: their headlines, already
        # prepared by the pool, are kept too.
        self._headlines[key] = head
        self._headlines.move_to_end(key)
        if len(self._headlines) > HEADLINE_CACHE:
            self._headlines.popitem(last=False)

    def _healthy(
        self,
        source: Source,
        result: FetchResult,
        now: datetime,
        hints: FeedHints,
        keep_validators: bool = False,
        **extra: object,
    ) -> Decision:
        outcome = PollResult(
            status=result.status,
            headers=result.headers,
            hints=hints,
            recent_published=self._recent(source.id),
        )
        decision = self._decide(now, source, outcome)
        fields: dict[str, object] = {
            "last_fetched_at": now,
            "last_status": result.status,
            "last_error": None,
            "error_count": 0,
            "hints": hints,
            **_schedule_fields(decision),
        }
        if not keep_validators:
            fields["etag"] = result.etag
            fields["last_modified"] = result.last_modified
        fields.update({k: v for k, v in extra.items() if v is not None or k == "last_warning"})
        self.store.record_fetch(source.id, **_changed_fields(source, fields))
        return decision

    def _recent(self, source_id: int) -> list[datetime]:
        found = self._recent_published.get(source_id)
        if found is None:
            found = self._recent_published[source_id] = self.store.recent_published(source_id)
        return found

    def _failed(
        self, source: Source, result: FetchResult, error: str, now: datetime, network_down: bool
    ) -> UpdateOutcome:
        errors = source.error_count if network_down else source.error_count + 1
        outcome = PollResult(
            status=result.status,
            failed=True,
            error_count=errors,
            headers=result.headers,
            hints=source.hints,
            network_down=network_down,
        )
        decision = self._decide(now, source, outcome)
        fields: dict[str, object] = {
            "last_fetched_at": now,
            "last_status": result.status,
            "last_error": error,
            "error_count": errors,
            **_schedule_fields(decision),
        }
        if result.status == 410:
            # 410 Gone is the publisher saying the feed will not come back: stop, and say why.
            error = f"HTTP 410 Gone: the publisher removed this feed, so polling stopped ({source.url})"
            fields.update(last_error=error, enabled=0, next_fetch_at=None, next_reason="disabled: HTTP 410 Gone")
        if not network_down:
            log.warning("%s (%s): %s", source.display_name, source.url, error)
        self.store.record_fetch(source.id, **fields)
        return UpdateOutcome(
            source.id, source.url, source.display_name, result.status, error=error, next_at=decision.at
        )

    def _decide(self, now: datetime, source: Source, outcome: PollResult) -> Decision:
        return next_check(now, source, outcome, self.settings.poll, jitter_chance(source.id, now))

    def _slow_down_rate_limited_hosts(self, outcomes: Sequence[UpdateOutcome]) -> None:
        """A 429 from a host holds back every source on that host, not just the one that got it."""
        for outcome in outcomes:
            if outcome.status == 429 and outcome.next_at:
                host = identity.host_of(outcome.url)
                held = self.store.hold_host(host, outcome.next_at)
                if held:
                    log.warning("%s answered 429: %d more sources on it wait until %s", host, held, outcome.next_at)

    def explain(self, url_or_id: str) -> Source:
        """The source with its scheduling decision: when the next poll is, which rule won, what was weighed."""
        return self.find_source(url_or_id)

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
        pruned = self.store.prune(now - timedelta(days=retention.days), retention.keep_per_source, now)
        self._recent_published.clear()
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
        common, named = self.store.name_stories(stories.name_keys(head_a), a.published)
        match = stories.compare(
            head_a,
            stories.headline(b.title, plain_text(b.summary)),
            _hours_between(a.published, b.published) if b.story_id in named else None,
            common,
        )
        if apart > window:
            same, reason = False, f"published {apart} apart, more than [dedupe] window_hours"
        elif link_a and link_a == link_b:
            same, reason = True, f"both link to the same article ({link_a})"
        else:
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
        return self.outputs.publish(self.settings.output, self.feed_topics(), self.clock())

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


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _hours_between(a: datetime, b: datetime | None) -> float | None:
    return abs(a - b).total_seconds() / 3600 if b is not None else None


def _needs_parsing(source: Source, result: FetchResult) -> bool:
    """A new body: not an error, not a 304, not the same bytes as last time."""
    return result.body is not None and not result.error and identity.body_hash(result.body) != source.body_hash


def make_aggregator(settings: Settings, clock: Clock = utc_now, fetcher: Fetcher | None = None) -> Aggregator:
    """An Aggregator over the database named in `settings`, created or upgraded as needed."""
    return Aggregator(settings, Store(settings.storage.path), clock=clock, fetcher=fetcher)


def _schedule_fields(decision: Decision) -> dict[str, object]:
    return {"next_fetch_at": decision.at, "next_reason": decision.reason, "schedule_considered": decision.considered}


# Health fields a poll of a healthy source mostly leaves as they were: a 304 rewrites none of them.
_KEPT_IF_SAME = ("last_status", "last_error", "error_count", "next_reason", "schedule_considered", "hints", "etag",
                 "last_modified", "body_hash", "last_warning", "feed_title", "feed_link")  # fmt: skip


def _changed_fields(source: Source, fields: dict[str, object]) -> dict[str, object]:
    """`fields` without those that hold what `source` already has."""
    return {k: v for k, v in fields.items() if k not in _KEPT_IF_SAME or v != getattr(source, k)}


def _implicit_topic(slug: str) -> Topic:
    return Topic(slug=slug, title=slug.replace("-", " ").title())


def _check_rights(mode: str) -> None:
    if mode not in RIGHTS_MODES:
        raise ConfigError(f"The rights mode {mode!r} is not one of {', '.join(RIGHTS_MODES)}.")


def _check_slugs(slugs: Sequence[str]) -> None:
    for slug in slugs:
        if not SLUG_PATTERN.match(slug):
            raise ConfigError(f"Topic {slug!r} is not a valid slug: use lower-case letters, digits and dashes.")
