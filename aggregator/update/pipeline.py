"""One poll: the sources fetched, each new body parsed and prepared (in the parser processes while
the others are still fetched, when many), the new items of all of them matched to stories
together in the canonical order (update/storing.py), each source written as a unit of its own,
then its next poll scheduled. A failure of one source, fetching, parsing, matching or storing it,
is that source's stored error; the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from aggregator import identity
from aggregator.config import PollSettings, Settings
from aggregator.exceptions import ParseError, StorageError
from aggregator.prepare import prepare_changed_items, prepare_items
from aggregator.schedule import Decision, PollResult, jitter_chance, next_check
from aggregator.store import Store
from aggregator.topics import TopicMatcher
from aggregator.types import (
    Entry,
    FeedHints,
    FetchRecord,
    FetchResult,
    NewItem,
    ParsedFeed,
    PollSummary,
    Source,
    UpdateOutcome,
)
from aggregator.update import saved_index
from aggregator.update.batches import Batches
from aggregator.update.storing import Plan, Storing

if TYPE_CHECKING:
    from aggregator.update.pool import ParserPool, Prepared

log = logging.getLogger(__name__)
PARALLEL_PARSE_MIN_SOURCES = 8  # below this, parsing inline is quicker than starting the pool

Fetcher = Callable[
    [Sequence[Source], PollSettings, Callable[[FetchResult], Awaitable[object] | None] | None],
    Coroutine[Any, Any, list[FetchResult]],
]
Clock = Callable[[], datetime]
_T = TypeVar("_T")


# Python's cycle collector runs after every 700 objects allocated and not freed; matching a poll's
# items allocates millions of short-lived sets and tuples, and collecting took 6.8 s of a 500-feed
# cold pass of 45.8 s (14 full collections). During a poll it runs after this many: 37-42 s.
POLL_COLLECTION_THRESHOLD = 100_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """The cycle collector run less often (POLL_COLLECTION_THRESHOLD) until the block ends."""
    young, *older = gc.get_threshold()
    gc.set_threshold(max(young, POLL_COLLECTION_THRESHOLD), *older)
    try:
        yield
    finally:
        gc.set_threshold(young, *older)


class Pipeline:
    """The polls of one installation, with what they remember from one poll to the next."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        matcher: TopicMatcher,
        clock: Clock,
        fetcher: Fetcher | None,
        parser_pool: Callable[[], ParserPool],
    ) -> None:
        self.settings = settings
        self.store = store
        self.matcher = matcher
        self.clock = clock
        self.fetcher = fetcher
        self.parser_pool = parser_pool
        self._running_fetch: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any] | None] | None = None
        # The saved index lies beside a SQLite file; with PostgreSQL it is prepared at every start.
        index_file = saved_index.path_for(store.path) if store.path is not None else None
        self.storing = Storing(store, clock, index_file)
        # Per source, the versions (identity and content) of the entries its last stored feed
        # carried: those are not prepared again (see prepare_changed_items).
        self._stored_versions: dict[int, frozenset[int]] = {}
        # Per source, its newest items' publication times (for its schedule), until it stores more.
        self._recent_published: dict[int, list[datetime]] = {}

    def reconfigure(self, settings: Settings, matcher: TopicMatcher) -> None:
        """Use new settings (a reloaded config) from the next poll on."""
        self.settings, self.matcher = settings, matcher

    def forget_publishing_rates(self) -> None:
        """Items were pruned: each source's publishing rate is read again when next needed."""
        self._recent_published.clear()

    def poll(self, sources: Sequence[Source], on_result: Callable[[FetchResult], None] | None = None) -> PollSummary:
        """Fetch `sources` once and store what each of them brought; what each source stored (or why
        it failed), in the order of `sources`. Publishing is the caller's."""
        with fewer_collections():
            return self._poll(sources, on_result)

    def _poll(self, sources: Sequence[Source], on_result: Callable[[FetchResult], None] | None) -> PollSummary:
        held: list[_Body] = []
        stored: dict[int, UpdateOutcome] = {}
        results: list[FetchResult] = []
        interrupted = False
        try:
            try:
                results = asyncio.run(self._fetch(sources, on_result, held, stored)) if sources else []
            except asyncio.CancelledError:
                interrupted = True
            stored |= self._store_bodies(held)
        except BaseException:
            self._stored_versions.clear()  # a failed batch is rolled back: what it stored is not
            self.storing.forget()
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
                    absorb = functools.partial(self._absorb, source, result, network_down)
                    stored[source.id] = self._isolated(source, result, absorb)
                    checkpoint()
        outcomes = tuple(stored[source.id] for source in sources)
        self._slow_down_rate_limited_hosts(outcomes)
        return PollSummary(outcomes=outcomes, network_down=network_down)

    def _store_bodies(self, bodies: Sequence[_Body]) -> dict[int, UpdateOutcome]:
        """Store new bodies of a poll: each read (parsed and prepared, unless the pool did), then
        the new items of all of them matched to stories together (`Storing.plan`, in the canonical
        order), then each source written as a unit of its own."""
        outcomes: dict[int, UpdateOutcome] = {}
        reads: list[_Read] = []
        with self.store.batch() as checkpoint:
            for body in sorted(bodies, key=lambda body: body.source.id):
                read = self._isolated(body.source, body.result, functools.partial(self._read, body))
                if isinstance(read, _Read):
                    reads.append(read)
                else:
                    outcomes[body.source.id] = read
                checkpoint()
        if not reads:
            return outcomes
        plans = self.storing.plan([(read.source, read.items) for read in reads], self.clock(), self.settings.dedupe)
        with self.store.batch() as checkpoint:
            for read, plan in zip(reads, plans, strict=True):
                outcome = self._isolated(
                    read.source, read.result, functools.partial(self._write, read, plan), self.storing.undo, plan
                )
                if not outcome.error:
                    self.storing.settle(plan)
                outcomes[read.source.id] = outcome
                checkpoint()
        self.storing.finish_poll()
        return outcomes

    async def _fetch(
        self,
        sources: Sequence[Source],
        on_result: Callable[[FetchResult], None] | None,
        held: list[_Body],
        stored: dict[int, UpdateOutcome],
    ) -> list[FetchResult]:
        """Fetch the sources; each new body is held for storing in `held`. In a poll of many, each
        new body is first parsed and its items prepared in the process pool, while the rest are
        still fetched; its fetch keeps its place until then, so bodies never pile up in memory
        faster than they are parsed, and only what the pool made of a body is kept, not the body.
        When the bodies held bring HELD_ITEMS new items (a first poll of many feeds), they are
        stored as a batch in a thread of their own (outcomes into `stored`) while fetching goes on,
        and while that batch is stored, further fetches wait: memory stays bounded."""
        loop = asyncio.get_running_loop()
        self._running_fetch = (loop, asyncio.current_task())
        from aggregator.update.pool import parse_and_prepare

        wide = len(sources) >= PARALLEL_PARSE_MIN_SOURCES
        broken = 0
        by_url = {source.url: source for source in sources}
        now = self.clock()
        batches = Batches(loop, held, stored, self._store_bodies)

        def parsed(body: _Body, settled: asyncio.Future[None], future: asyncio.Future[Prepared]) -> None:
            nonlocal broken
            error = None if future.cancelled() else future.exception()
            if isinstance(error, BrokenProcessPool):
                broken += 1  # a worker died (out of memory, killed): this feed is parsed inline instead
            if isinstance(error, ParseError):
                body.prepared = error
            elif error is None and not future.cancelled():
                body.prepared = future.result()
                body.result = dataclasses.replace(body.result, body=None)
            # anything else the worker raised is raised again by parsing inline
            batches.hold(body, settled)

        def fetched(result: FetchResult) -> asyncio.Future[None] | None:
            if on_result:
                on_result(result)
            source = by_url.get(result.url)
            if source is None or result.body is None or result.error:
                return None  # nothing new to store: a failure, a 304
            digest = identity.body_hash(result.body)
            if digest == source.body_hash:
                return None  # the same bytes as last time
            body = _Body(source, result, digest)
            if not wide:
                batches.hold(body)
                return None
            job = functools.partial(
                parse_and_prepare,
                result.body,
                result.headers,
                result.final_url,
                now,
                source,
                self.matcher,
                self._stored_versions.get(source.id, frozenset()),
                self.settings.poll.max_entries,
            )
            settled: asyncio.Future[None] = loop.create_future()
            self.parser_pool().prepare(loop, job).add_done_callback(functools.partial(parsed, body, settled))
            return settled

        try:
            results = await self.fetcher_in_use()(sources, self.settings.poll, fetched)
        finally:
            self._running_fetch = None
            await batches.finish()
        if broken:
            log.warning("the parser processes stopped; %d feeds were parsed in the main process instead", broken)
            self.parser_pool().close()
        return results

    def fetcher_in_use(self) -> Fetcher:
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

    def _isolated(
        self,
        source: Source,
        result: FetchResult,
        work: Callable[[], _T],
        undo: Callable[[Plan], None] | None = None,
        plan: Plan | None = None,
    ) -> _T | UpdateOutcome:
        """Do `work` for one source as a unit of its own: whatever goes wrong storing, matching or
        indexing it is undone, becomes that source's stored error, and the poll goes on with the
        other sources. Only a database that cannot be written stops the poll."""
        try:
            with self.store.transaction():
                return work()
        except StorageError:
            raise
        except Exception as exc:
            if undo and plan:
                undo(plan)
            log.error("%s (%s) could not be stored", source.display_name, source.url, exc_info=True)
            # What was remembered of this source's last feed was rolled back with it.
            self._stored_versions.pop(source.id, None)
            self._recent_published.pop(source.id, None)
            error = f"its entries could not be stored: {type(exc).__name__}: {exc}"
            return self._failed(source, result, error, self.clock(), network_down=False)

    def _absorb(self, source: Source, result: FetchResult, network_down: bool) -> UpdateOutcome:
        """Store a result that brought no new body: a failure, a 304, the same bytes as last time,
        or a permanent move."""
        now = self.clock()
        if not self.store.source_exists(source.id):
            return _removed(source, result)
        if result.moved_to and result.moved_to != source.url:
            source = self._move(source, result)
        if result.error:
            return self._failed(source, result, result.error, now, network_down)
        if result.not_modified:
            log.info("%s: HTTP 304 in %.2f s, not modified", source.display_name, result.elapsed)
            return self._unchanged(source, result, now, keep_validators=True)
        digest = identity.body_hash(result.body or b"")
        log.info("%s: HTTP %s in %.2f s, same bytes as before", source.display_name, result.status, result.elapsed)
        return self._unchanged(source, result, now, body_hash=digest)

    def _read(self, body: _Body) -> _Read | UpdateOutcome:
        """Parse and prepare a new body (unless the pool did); a body that is not a feed becomes the
        source's stored error."""
        source, result, prepared = body.source, body.result, body.prepared
        now = self.clock()
        if not self.store.source_exists(source.id):
            return _removed(source, result)
        if result.moved_to and result.moved_to != source.url:
            source = self._move(source, result)
            prepared = None  # its items are keyed by the new URL: prepared again below
        from aggregator.parse import parse_feed

        try:
            if isinstance(prepared, ParseError):
                raise prepared
            if prepared is None:
                parsed = parse_feed(
                    result.body or b"", result.headers, result.final_url, now, self.settings.poll.max_entries
                )
                items, versions = prepare_changed_items(
                    source, parsed.entries, self.matcher, self._stored_versions.get(source.id, frozenset())
                )
            else:
                parsed, items, versions = prepared
        except ParseError as exc:
            return self._failed(source, result, str(exc), now, network_down=False)
        if parsed.warning:
            log.warning("%s: %s", source.display_name, parsed.warning)
        return _Read(source, dataclasses.replace(result, body=None), body.digest, parsed, items, versions)

    def _write(self, read: _Read, plan: Plan) -> UpdateOutcome:
        """Write a read body's planned items and the source's health, and schedule its next poll."""
        source, result, parsed = read.source, read.result, read.parsed
        now = self.clock()
        counts = self.storing.write(plan, now)
        if counts.new or counts.updated:
            self._recent_published.pop(source.id, None)
        self._stored_versions[source.id] = read.versions
        decision = self._healthy(
            source,
            result,
            now,
            parsed.meta.hints,
            body_hash=read.digest,
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

    def _move(self, source: Source, result: FetchResult) -> Source:
        """301/308: the publisher moved the feed for good; the old URL stays as an alias."""
        assert result.moved_to
        log.warning("%s moved permanently to %s", source.url, result.moved_to)
        return self.store.move_source(source.id, result.moved_to)

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
        decision = self.decide(now, source, outcome)
        fields: dict[str, Any] = {
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
        self.store.record_fetch(source.id, FetchRecord(**_changed_fields(source, fields)))
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
        decision = self.decide(now, source, outcome)
        fields: dict[str, Any] = {
            "last_fetched_at": now,
            "last_status": result.status,
            "last_error": error,
            "error_count": errors,
            **_schedule_fields(decision),
        }
        if result.status == 410:
            # 410 Gone is the publisher saying the feed will not come back: stop, and say why.
            error = f"HTTP 410 Gone: the publisher removed this feed, so polling stopped ({source.url})"
            fields.update(last_error=error, enabled=False, next_fetch_at=None, next_reason="disabled: HTTP 410 Gone")
        if not network_down:
            log.warning("%s (%s): %s", source.display_name, source.url, error)
        self.store.record_fetch(source.id, FetchRecord(**fields))
        return UpdateOutcome(
            source.id, source.url, source.display_name, result.status, error=error, next_at=decision.at
        )

    def decide(self, now: datetime, source: Source, outcome: PollResult) -> Decision:
        return next_check(now, source, outcome, self.settings.poll, jitter_chance(source.id, now))

    def _slow_down_rate_limited_hosts(self, outcomes: Sequence[UpdateOutcome]) -> None:
        """A 429 from a host holds back every source on that host, not just the one that got it."""
        for outcome in outcomes:
            if outcome.status == 429 and outcome.next_at:
                host = identity.host_of(outcome.url)
                held = self.store.hold_host(host, outcome.next_at)
                if held:
                    log.warning("%s answered 429: %d more sources on it wait until %s", host, held, outcome.next_at)


@dataclass
class _Body:
    """A new body fetched for a source, and what the pool made of it (then the body is dropped)."""

    source: Source
    result: FetchResult
    digest: str
    prepared: Prepared | ParseError | None = None

    @property
    def new_items(self) -> int:
        """The items the pool prepared of it (0 until then, or when it is parsed inline)."""
        return len(self.prepared[1]) if isinstance(self.prepared, tuple) else 0


@dataclass(frozen=True)
class _Read:
    """A new body parsed and prepared, ready to be matched and written."""

    source: Source
    result: FetchResult
    digest: str
    parsed: ParsedFeed
    items: list[NewItem]
    versions: frozenset[int]


def _removed(source: Source, result: FetchResult) -> UpdateOutcome:
    log.info("%s was removed while it was being polled; its result is dropped", source.url)
    return UpdateOutcome(source.id, source.url, source.display_name, result.status, error="removed while polled")


def _schedule_fields(decision: Decision) -> dict[str, Any]:
    return {"next_fetch_at": decision.at, "next_reason": decision.reason, "schedule_considered": decision.considered}


# Health fields a poll of a healthy source mostly leaves as they were: a 304 rewrites none of them.
_KEPT_IF_SAME = ("last_status", "last_error", "error_count", "next_reason", "schedule_considered", "hints", "etag",
                 "last_modified", "body_hash", "last_warning", "feed_title", "feed_link")  # fmt: skip


def _changed_fields(source: Source, fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` without those that hold what `source` already has."""
    return {k: v for k, v in fields.items() if k not in _KEPT_IF_SAME or v != getattr(source, k)}
