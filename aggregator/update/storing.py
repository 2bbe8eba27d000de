"""Storing a poll's items: the story of every new item decided here, over the story index in
memory (stories/index.py), and each source's items written by the store in one transaction.

- `plan`: every new item of the poll, from every source, is matched in the canonical order
  (published, then source, then item key), never in the order feeds were fetched, and added to the
  index at once so that the next item can join its story. A wire polled in any order, in one poll
  or in many that bring its items as they are published, gives the same stories. A changed item
  is revised in place: its revisions are counted per day, and its story shows as updated only
  while it is not flapping (`revise`). An item retention pruned is not stored again.
- `write`: one source's planned items written with their story ids; a story a new item starts gets
  its id from the store when first written (`settle` tells the index), and a failed write is
  taken out of the index again (`undo`), so the index holds what the database holds.

The index is built from the items of the dedupe window when first needed, and takes in the items
other processes stored (an `offthewire poll` beside the daemon) before each plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator import stories
from aggregator.config import DedupeSettings
from aggregator.store import Store
from aggregator.stories.index import Candidate, Prepared, StoryIndex
from aggregator.text import plain_text
from aggregator.types import NewItem, Revision, SaveCounts, Source, StoredItem, WindowReport
from aggregator.update import saved_index

REVISION_DAY = timedelta(days=1)
EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass
class Plan:
    """One source's items as the poll decided to store them."""

    source: Source
    new: list[tuple[NewItem, Candidate, int]] = field(default_factory=list)  # story: < 0 until written
    changed: list[tuple[StoredItem, NewItem, Revision]] = field(default_factory=list)
    started: dict[int, int] = field(default_factory=dict)  # provisional story -> id, once written
    moved: list[tuple[Candidate, int]] = field(default_factory=list)  # joined a story gone since: a new one
    item_ids: list[int] = field(default_factory=list)  # of the new items, once written
    error: Exception | None = None  # matching one of its items failed: the source is not written


class Storing:
    """Plans and writes the items of one poll after another, over one story index."""

    def __init__(self, store: Store, clock: Callable[[], datetime], index_file: Path | None = None) -> None:
        self.store = store
        self.clock = clock
        self.index_file = index_file  # where the index's prepared headlines are saved between runs
        self.index: StoryIndex | None = None
        self._last_item_id = 0  # the newest stored item the index has taken in
        self._own: set[int] = set()  # items this process stored since then, in the index already
        self._since: datetime | None = None  # the index holds the reports published since then
        self._stored_stories: dict[int, int] = {}  # provisional story -> its stored id, in this poll

    def store_items(
        self, source: Source, new_items: Sequence[NewItem], now: datetime, dedupe: DedupeSettings
    ) -> SaveCounts:
        """Plan and write one source's items, in one transaction."""
        [plan] = self.plan([(source, new_items)], now, dedupe)
        try:
            with self.store.transaction():
                counts = self.write(plan, now)
        except BaseException:
            self.undo(plan)
            raise
        self.settle(plan)
        return counts

    def plan(
        self, batches: Sequence[tuple[Source, Sequence[NewItem]]], now: datetime, dedupe: DedupeSettings
    ) -> list[Plan]:
        """Decide how each source's items are stored: new ones matched to stories in canonical
        order, changed ones revised. Reads the store, writes nothing."""
        plans: list[Plan] = []
        fresh: list[tuple[Candidate, NewItem, Plan]] = []
        for source, items in batches:
            plan = Plan(source)
            plans.append(plan)
            keys = [item.key for item in items]
            stored = self.store.stored_items(source.id, keys)
            pruned = self.store.pruned_keys(source.id, [key for key in keys if key not in stored])
            for item in items:
                known = stored.get(item.key)
                if known is None and item.key not in pruned:
                    fresh.append((candidate(source.id, item, now), item, plan))
                elif known is not None and known.content_hash != item.content_hash:
                    plan.changed.append((known, item, revise(known, item, now, dedupe)))
        fresh.sort(key=lambda planned: planned[0].order)
        index = self.index_for(now, dedupe, fresh[0][0].published if fresh else None)
        for found, item, plan in fresh:
            if plan.error:
                continue
            try:
                story = index.match(found)
            except Exception as exc:  # one bad entry fails its source (`write` raises it), not the poll
                plan.error = exc
                continue
            if story is None:
                story = index.new_story()
            index.add(found, story)
            plan.new.append((item, found, story))
        return plans

    def write(self, plan: Plan, now: datetime) -> SaveCounts:
        """Write one planned source inside the caller's transaction; `settle` or `undo` it after."""
        source_id = plan.source.id
        if plan.error:
            raise plan.error
        if not self.store.source_exists(source_id):
            self.undo(plan)  # removed while it was being polled: nothing is stored for it
            return SaveCounts(0, 0, 0)
        written: list[tuple[int, NewItem]] = []
        merged = 0
        for item, found, story in plan.new:
            known = story if story >= 0 else self._stored_stories.get(story, plan.started.get(story))
            item_id, stored_story = self.store.insert_item(source_id, item, now, known)
            if known is None:
                plan.started[story] = stored_story
            elif known != stored_story:
                plan.moved.append((found, stored_story))
            merged += known == stored_story
            written.append((item_id, item))
            plan.item_ids.append(item_id)
        for stored, item, revision in plan.changed:
            self.store.update_item(stored, item, revision)
            written.append((stored.id, item))
        self.store.index_for_search(written)
        return SaveCounts(len(plan.new), len(plan.changed), merged)

    def settle(self, plan: Plan) -> None:
        """A source's write was committed: its new stories take their ids in the index, and its
        revised reports are read again."""
        if self.index is None:
            return
        self._own.update(plan.item_ids)
        for provisional, story in plan.started.items():
            self._stored_stories[provisional] = story
            self.index.rename_story(provisional, story)
        for found, story in plan.moved:
            self.index.add(found, story)
        for _, item, _ in plan.changed:
            kept = self.index.report_of(plan.source.id, item.key)
            if kept is not None:  # read again with its new headline, at its time unless it gives one
                published = datetime.fromtimestamp(kept.published, UTC)
                self.index.add(candidate(plan.source.id, item, published), kept.story)

    def undo(self, plan: Plan) -> None:
        """A source's write was rolled back: its new reports leave the index."""
        if self.index is not None:
            for _, found, _ in plan.new:
                self.index.discard(found.source, found.item_key)
        plan.started.clear()
        plan.moved.clear()
        plan.item_ids.clear()

    def finish_poll(self) -> None:
        """Forget the provisional stories of the poll that ended."""
        self._stored_stories.clear()

    def forget(self) -> None:
        """Items were pruned, or a write undone wholesale: the index is built again when next needed."""
        self.index = None

    def pruned(self, before: datetime) -> None:
        """Items published before `before` were deleted: the index is built again when next needed
        if it held any of them (the window reaches back that far); else it is kept as it is."""
        if self._since is not None and before > self._since:
            self.forget()

    def forget_source(self, source_id: int) -> None:
        """A source was removed with its items: its reports leave the index."""
        if self.index is not None:
            self.index.discard_source(source_id)

    def index_for(self, now: datetime, dedupe: DedupeSettings, earliest: datetime | None = None) -> StoryIndex:
        """The story index of the window before `now` (or before `earliest`, the oldest report
        about to be matched, when older: a feed read again after days), built or brought up to date."""
        window = timedelta(hours=dedupe.window_hours)
        if self.index is None or self.index.window != window:
            self.index, self._last_item_id, self._since = StoryIndex(window), 0, None
            self._own.clear()
        since = min(now, earliest or now) - window
        if self._since is None:  # a new index: the window's items, as prepared before when saved
            saved = saved_index.load(self.index_file) if self.index_file is not None else {}
            self._take_in(self.store.window_reports(since), saved)
            self._since = since
            return self.index
        if since < self._since:
            self._take_in(self.store.window_reports(since, until=self._since))
        self.index.prune(since)
        self._since = since
        # Only the items other processes stored since are read (an `offthewire poll` beside the
        # daemon): this process's own are in the index already.
        newer = self.store.item_ids_after(self._last_item_id)
        foreign = {item_id for item_id in newer if item_id not in self._own}
        if foreign:
            rows = self.store.window_reports(since, after_id=min(foreign) - 1)
            self._take_in([row for row in rows if row.item_id in foreign])
        if newer:
            self._last_item_id = newer[-1]
        self._own.clear()
        return self.index

    def _take_in(self, rows: Sequence[WindowReport], prepared: Mapping[int, Prepared] | None = None) -> None:
        """Stored reports into the index, those it holds already (stored by this process) left out;
        a report whose text was `prepared` before is taken as it was, else prepared now."""
        assert self.index is not None
        for row in rows:
            self._last_item_id = max(self._last_item_id, row.item_id)
            if self.index.story_of(row.source_id, row.key) == row.story_id:
                continue
            digest = stories.text_digest(row.title, row.summary)
            saved = prepared.get(digest) if prepared else None
            if saved is not None:
                self.index.restore(row.source_id, row.key, row.published, row.canonical_link, saved, row.story_id)
                continue
            head = stories.headline(row.title, plain_text(row.summary))
            keys, names = tuple(stories.lsh_keys(head)), tuple(stories.name_keys(head))
            found = Candidate(row.source_id, row.key, row.published, row.canonical_link, head, keys, names, digest)
            self.index.add(found, row.story_id)

    def save(self) -> None:
        """Save the index's prepared headlines for the next process that starts (saved_index.py)."""
        if self.index is not None and self.index_file is not None and len(self.index):
            saved_index.save(self.index_file, self.index.prepared())


def candidate(source_id: int, item: NewItem, now: datetime) -> Candidate:
    """A new item as the story index matches it; undated, it is dated `now`, when first seen."""
    head = item.match or stories.headline(item.title, plain_text(item.summary))
    keys, names = item.match_keys, item.name_keys
    if item.match is None and not keys:
        keys, names = tuple(stories.lsh_keys(head)), tuple(stories.name_keys(head))
    digest = stories.text_digest(item.title, item.summary)
    return Candidate(source_id, item.key, item.published or now, item.canonical_link, head, keys, names, digest)


def revise(stored: StoredItem, item: NewItem, now: datetime, dedupe: DedupeSettings) -> Revision:
    """How a changed item is stored. Revisions are counted per day, so that a report that keeps
    changing can be told from one corrected once; the entry's own date wins when it moved forward,
    else the moment the change was seen."""
    since, revisions = stored.revisions_since, stored.revisions
    if since is None or now - since >= REVISION_DAY:
        since, revisions = now, 0
    revisions += 1
    before = stored.updated or now
    updated = item.updated if item.updated and item.updated > before else max(now, before)
    moves = stories.revision_moves_story(dedupe.republish_updates, revisions, dedupe.max_revisions)
    return Revision(updated, revisions, since, moves)


def hours_between(a: datetime, b: datetime | None) -> float | None:
    return abs(a - b).total_seconds() / 3600 if b is not None else None
