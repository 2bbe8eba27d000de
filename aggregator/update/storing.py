"""Storing one source's prepared items, with every decision made here and every write made by the
store, in one transaction:

- a new item joins the story of an article it links within the window, unless the page was reused
  for other news (`link_veto`); else the story whose reports the story rules match best among the
  candidates the store reads for its keys (`choose_story`); else it starts a story;
- a changed item is revised in place; its revisions are counted per day, and its story shows as
  updated only while it is not flapping (`revise`);
- an item retention pruned is not stored again.

Stored reports' headlines are prepared once and kept (`HEADLINE_CACHE`): syndicated stories are
candidates for one new item after another.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aggregator import stories
from aggregator.config import DedupeSettings
from aggregator.store import Store
from aggregator.stories.rules import (
    CANDIDATE_REPORTS_NEWEST,
    CANDIDATE_REPORTS_OLDEST,
    KEY_POSTINGS,
    MAX_CANDIDATE_STORIES,
    RARE_NAME_POSTINGS,
    RARE_NAME_STORIES,
)
from aggregator.text import plain_text
from aggregator.types import NewItem, Revision, SaveCounts, Source, StoredItem, StoredReport

HEADLINE_CACHE = 2_000  # prepared headlines kept for story matching (about 13 MB when full)
REKEY_DAYS = 14  # story keys made again when marked stale: wider than any sensible [dedupe] window_hours
STALE_KEYS = "story_keys_stale"  # the mark a migration leaves when story keys must be made again
REVISION_DAY = timedelta(days=1)
EARLIEST = datetime.min.replace(tzinfo=UTC)


class Storing:
    """Stores the items of one source after another, remembering prepared headlines between them."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        self._headlines: OrderedDict[tuple[str, str], stories.Headline] = OrderedDict()

    def store_items(
        self, source: Source, new_items: Sequence[NewItem], now: datetime, dedupe: DedupeSettings
    ) -> SaveCounts:
        """Insert one source's new items and revise its changed ones, in one transaction."""
        window = timedelta(hours=dedupe.window_hours)
        new = updated = merged = 0
        with self.store.transaction():
            if not self.store.source_exists(source.id):
                return SaveCounts(0, 0, 0)  # removed while it was being polled: store nothing for it
            keys = [item.key for item in new_items]
            stored = self.store.stored_items(source.id, keys)
            pruned = self.store.pruned_keys(source.id, [key for key in keys if key not in stored])
            written: list[tuple[int, NewItem]] = []
            for item in new_items:
                known = stored.get(item.key)
                if known is None:
                    if item.key in pruned:
                        continue
                    story_id = self.story_for(source.id, item, item.published or now, window)
                    item_id, _ = self.store.insert_item(source.id, item, now, story_id)
                    written.append((item_id, item))
                    merged += story_id is not None
                    new += 1
                elif known.content_hash != item.content_hash:
                    self.store.update_item(known, item, revise(known, item, now, dedupe))
                    written.append((known.id, item))
                    updated += 1
            self.store.index_for_search(written)
        for item in new_items:
            if item.match is not None:
                self._remember_headline((item.title, item.summary), item.match)
        return SaveCounts(new, updated, merged)

    def rebuild_stale_keys(self, now: datetime) -> None:
        """Make recent reports' story keys again with today's rules, when a migration asked for it."""
        if self.store.optional_meta(STALE_KEYS) is None:
            return
        since = now - timedelta(days=REKEY_DAYS)
        keys = [
            (key, story_id, published)
            for story_id, title, published in self.store.recent_titles(since)
            for key in stories.lsh_keys(stories.headline(title))
        ]
        self.store.replace_story_keys(since, keys)
        self.store.delete_meta(STALE_KEYS)

    def story_for(self, source_id: int, item: NewItem, published: datetime, window: timedelta) -> int | None:
        """The stored story a new item joins, if any: the same article within the window, or the
        same news told in a headline the story rules match."""
        earliest, latest = published - window, published + window
        if item.canonical_link:
            linked = self.store.story_with_link(item.canonical_link, earliest, latest)
            if linked is not None and not self.link_veto(item, self.store.story_reports(linked)):
                return linked
        if not item.match_keys:
            return None
        common, named = self.rare_names(item.name_keys, published)
        reports = self.candidates(source_id, item.match_keys, earliest, latest, named)
        return self.choose_story(replace(item, common_names=common), reports) if reports else None

    def rare_names(self, name_keys: Sequence[tuple[str, int]], published: datetime) -> tuple[frozenset[str], set[int]]:
        """Of a report's `name_keys` (stories.name_keys), the names that more than RARE_NAME_STORIES
        stories carry within DEVELOPING_HOURS of `published`, and the stories that carry one of the
        others (a rare name) in those hours."""
        near = timedelta(hours=stories.DEVELOPING_HOURS)
        by_key = self.store.name_postings(
            [key for _, key in name_keys], published - near, published + near, RARE_NAME_POSTINGS
        )
        common = frozenset(name for name, key in name_keys if len(by_key.get(key, ())) > RARE_NAME_STORIES)
        named = {story for found in by_key.values() if len(found) <= RARE_NAME_STORIES for story in found}
        return common, named

    def candidates(
        self, source_id: int, keys: Sequence[int], earliest: datetime, latest: datetime, named: set[int]
    ) -> list[StoredReport]:
        """The reports a new item of `source_id` is compared with, oldest first: of the
        MAX_CANDIDATE_STORIES stories sharing most keys with it within the window, and of the
        `named` stories (sharing a rare name with it), the first and the latest few reports of each
        (a story carried by twenty outlets is twenty copies of a few headlines). A story the source
        already carries is left out: one feed does not carry one story twice, so headlines alike
        within a source are different news."""
        by_story = self.store.candidate_reports(keys, earliest, latest, named, MAX_CANDIDATE_STORIES, KEY_POSTINGS)
        chosen: list[StoredReport] = []
        for reports in by_story.values():
            if any(report.source_id == source_id for report in reports):
                continue
            newest = len(reports) - CANDIDATE_REPORTS_NEWEST
            chosen += [r for n, r in enumerate(reports) if n < CANDIDATE_REPORTS_OLDEST or n >= newest]
        chosen.sort(key=lambda report: report.published or EARLIEST)
        return chosen

    def choose_story(self, item: NewItem, reports: Sequence[StoredReport]) -> int | None:
        """The candidate story this item's headline (and summary) matches best, if any."""
        mine = item.match or self.headline(item.title, item.summary)
        published = item.published or self.clock()
        # Hours apart only where a rare name is shared: the rule for a story developing applies there.
        apart = [hours_between(published, r.published) if r.shares_rare_name else None for r in reports]
        common = item.common_names
        return stories.choose_story(
            mine,
            [
                (r.story_id, self.headline(r.title, r.summary), hours)
                for r, hours in zip(reports, apart, strict=True)
                if r.words is None or stories.may_match(mine, r.words, hours, common)
            ],
            common,
        )

    def link_veto(self, item: NewItem, reports: Sequence[StoredReport]) -> bool:
        """Whether an item that links the same page as a story still tells a different event: a live
        page or a weather-warning page reused for other news, when every report of the story is a
        day or more away and names other actors or places."""
        mine = item.match or self.headline(item.title, item.summary)
        published = item.published or self.clock()
        return all(
            r.published is not None
            and abs(published - r.published) >= stories.REUSED_LINK_GAP
            and stories.different_events(mine, self.headline(r.title, r.summary))
            for r in reports
        )

    def headline(self, title: str, summary_html: str) -> stories.Headline:
        """A stored report's headline prepared for matching, once."""
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
