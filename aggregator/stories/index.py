"""The story index: every report inside the dedupe window, held in memory with what matching needs,
and the choice of the story a new report joins.

Each report is kept with its story, source, time, canonical link, headline (its words in tuples,
`StoredHeadline`: what comparing works out of it is kept only for the HEAD_CACHE compared last)
and integer keys (keys.py), postings in arrays of 64-bit integers. Finding
a new report's candidate stories is a few dictionary lookups and a binary search per key,
whatever the size of the archive. The index is built from the stored items of the window when the
process that stores starts, and kept up to date as items are stored, revised and pruned; it can
always be built again from the items.

`match` applies the rules of rules.py to the candidates:

- a report linking the same article as a report of a story within the window joins that story,
  unless the page was reused for other news (`different_events`, a day or more apart);
- else the candidate stories are those sharing most keys with it within the window (each key's
  newest postings counted), those sharing a rare name with it within DEVELOPING_HOURS, and those
  sharing a name only one story carries within SINGULAR_NAME_HOURS; a story its own source told
  more than REVISION_HOURS before is left out (the next of a recurring report), and one it told
  since is joined only by a revision; the first and the latest few reports of each are compared,
  and the best match wins.

Every tie is broken by the reports' canonical order (published, source, item key), never by the
order reports reached the index: matched in that order, a wire gives the same stories however its
feeds are fetched or split into polls (see update/storing.py).
"""

from __future__ import annotations

import bisect
import heapq
import math
from array import array
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeAlias, TypeVar

from aggregator.stories.headline import Headline, StoredHeadline
from aggregator.stories.rules import (
    CANDIDATE_REPORTS_NEWEST,
    CANDIDATE_REPORTS_OLDEST,
    DEVELOPING_HOURS,
    KEY_POSTINGS,
    MAX_CANDIDATE_STORIES,
    RARE_NAME_POSTINGS,
    RARE_NAME_STORIES,
    REUSED_LINK_GAP,
    REVISION_HOURS,
    SINGULAR_NAME_HOURS,
    choose_story,
    different_events,
    ruled_out,
)

HOUR = 3600.0
MINUTE = 60
# A report's place in the canonical order: (published, source id, item key).
Order = tuple[float, int, str]
# A key's posting: a report's number and its time (whole minutes: a clock set to year 9998 still
# fits) in one unsigned 64-bit integer that sorts by time, then number; a key only one report has
# keeps it alone, others in an array (8 bytes a posting, where a list of integers takes 44).
# Postings are most of the index (26 keys a report), so they are kept as small as Python allows.
Posting = int
Postings: TypeAlias = "int | array[int]"
_NUMBER_BITS = 32
_NUMBER_MASK = (1 << _NUMBER_BITS) - 1
K = TypeVar("K", int, str)
# A report's headline as prepared, saved between runs (update/saved_index.py): the digest of the
# text it was prepared from (`text_digest`), its `StoredHeadline`'s fields, keys and name keys.
Prepared = tuple[int, tuple[Any, ...], bytes, bytes]
# Headlines compared last (or added last), kept with what comparing worked out of them (names,
# mentions: several kilobytes each); every other report of the window keeps its headline stored
# (`StoredHeadline`), and what a comparison needs of it is worked out again (most comparisons need
# only its words).
HEAD_CACHE = 4096


@dataclass(slots=True, eq=False)
class Report:
    """What the index keeps of one stored report: its headline stored (`StoredHeadline`), with what
    comparing works out of it kept only for the HEAD_CACHE compared last (`StoryIndex.head`)."""

    story: int
    source: int
    item_key: str
    published: float  # POSIX seconds
    link: str | None
    head: StoredHeadline
    keys: array[int]  # 64-bit integers: a tuple of them would take four times the memory
    name_keys: array[int]
    digest: int  # of the text the headline was prepared from (`text_digest`)

    @property
    def order(self) -> Order:
        return (self.published, self.source, self.item_key)


# What a report number left vacant holds (its posting matches no posting of a report: it was
# published at no time an index holds, minute -1).
VACANT = Report(
    0, 0, "", -float(MINUTE), None, StoredHeadline("", "", "", (), (), (), (), "", (), 0), array("q"), array("q"), 0
)


class RareNames(NamedTuple):
    """What a report's names tell (`StoryIndex.rare_names`)."""

    common: frozenset[str]  # names many stories carry in the hours around it
    stories: set[int]  # the stories carrying one of its rare names
    singular: frozenset[str]  # names only one story carries in the days around it


@dataclass(frozen=True)
class Candidate:
    """A report offered for matching: its source, item key, time and what its headline gave
    (prepared from the text of `digest`)."""

    source: int
    item_key: str
    published: datetime
    link: str | None
    head: Headline
    keys: tuple[int, ...]
    names: tuple[tuple[str, int], ...]
    digest: int

    @property
    def order(self) -> Order:
        return (self.published.timestamp(), self.source, self.item_key)


@dataclass
class StoryIndex:
    """The reports of the window, by story, key, name key and canonical link."""

    window: timedelta
    # by report number: a number whose report left is VACANT until a new report takes it, so the
    # numbers in use stay as many as the reports of the window, however long the process runs
    reports: list[Report] = field(default_factory=list)
    _vacant: list[int] = field(default_factory=list)
    _numbers: dict[tuple[int, str], int] = field(default_factory=dict)  # (source, item key) -> report number
    # story -> its reports' numbers, kept in canonical order
    _stories: dict[int, list[int]] = field(default_factory=dict)
    _keys: dict[int, Postings] = field(default_factory=dict)
    _names: dict[int, Postings] = field(default_factory=dict)
    _links: dict[str, Postings] = field(default_factory=dict)
    _ages: list[Posting] = field(default_factory=list)  # a heap of every report added, oldest first
    _heads: OrderedDict[int, Headline] = field(default_factory=OrderedDict)  # the HEAD_CACHE last used
    _next_provisional: int = -1

    def __len__(self) -> int:
        return len(self.reports) - len(self._vacant)

    def new_story(self) -> int:
        """A provisional (negative) story id for a report that starts a story; the store gives the
        real one when the story is written (`rename_story`)."""
        story, self._next_provisional = self._next_provisional, self._next_provisional - 1
        return story

    def add(self, candidate: Candidate, story: int) -> None:
        """Keep a report of `story`; a report of the same source and item key is replaced (a revision)."""
        head, names = candidate.head, array("q", (key for _, key in candidate.names))
        report = Report(
            story,
            candidate.source,
            candidate.item_key,
            candidate.published.timestamp(),
            candidate.link,
            head.stored(),
            array("q", candidate.keys),
            names,
            candidate.digest,
        )
        self._remember(self._keep(report), head)

    def restore(
        self, source: int, item_key: str, published: datetime, link: str | None, prepared: Prepared, story: int
    ) -> None:
        """Keep a stored report of `story` as prepared before (`prepared`), without preparing it again."""
        digest, head, keys, names = prepared
        report = Report(
            story,
            source,
            item_key,
            published.timestamp(),
            link,
            StoredHeadline(*head),
            _int64s(keys),
            _int64s(names),
            digest,
        )
        self._keep(report)

    def prepared(self) -> list[Prepared]:
        """Every report's headline as prepared, to save (`restore` takes each back)."""
        return [
            (report.digest, tuple(report.head), report.keys.tobytes(), report.name_keys.tobytes())
            for report in self.reports
            if report is not VACANT
        ]

    def _keep(self, report: Report) -> int:
        self.discard(report.source, report.item_key)
        if self._vacant:
            number = self._vacant.pop()
            self.reports[number] = report
        else:
            number = len(self.reports)
            self.reports.append(report)
        self._numbers[(report.source, report.item_key)] = number
        bisect.insort(self._stories.setdefault(report.story, []), number, key=self._order_of)
        posting = _posting(report.published, number)
        heapq.heappush(self._ages, posting)
        _post_all(self._keys, report.keys, posting)
        _post_all(self._names, report.name_keys, posting)
        if report.link:
            _post(self._links, report.link, posting)
        return number

    def discard(self, source: int, item_key: str) -> None:
        """Forget a report (its item was pruned, or its write undone), if kept."""
        number = self._numbers.pop((source, item_key), None)
        if number is None:
            return
        report = self.reports[number]
        self.reports[number] = VACANT
        self._vacant.append(number)
        self._heads.pop(number, None)
        posting = _posting(report.published, number)
        members = self._stories[report.story]
        members.remove(number)
        if not members:
            del self._stories[report.story]
        for key in report.keys:
            _unpost(self._keys, key, posting)
        for key in report.name_keys:
            _unpost(self._names, key, posting)
        if report.link:
            _unpost(self._links, report.link, posting)

    def discard_source(self, source: int) -> None:
        """Forget every report of a source (it was removed)."""
        for found_source, item_key in [pair for pair in self._numbers if pair[0] == source]:
            self.discard(found_source, item_key)

    def prune(self, before: datetime) -> int:
        """Forget the reports published before `before` (those of its last minute at the next prune); how many."""
        edge, ages, pruned = before.timestamp(), self._ages, 0
        while ages and (ages[0] >> _NUMBER_BITS) * MINUTE + MINUTE <= edge:  # the whole minute before the edge
            posting = heapq.heappop(ages)
            report = self.reports[posting & _NUMBER_MASK]
            if _posting(report.published, posting & _NUMBER_MASK) == posting:  # not left, nor taken by another since
                self.discard(report.source, report.item_key)
                pruned += 1
        return pruned

    def rename_story(self, provisional: int, story: int) -> None:
        """The store gave a story its real id."""
        members = self._stories.pop(provisional, [])
        for number in members:
            self.reports[number].story = story
        self._stories[story] = sorted(self._stories.get(story, []) + members, key=self._order_of)

    def head(self, number: int) -> Headline:
        """Report `number`'s headline to compare: as last compared, or made again from the stored one."""
        head = self._heads.get(number)
        if head is not None:
            self._heads.move_to_end(number)
            return head
        head = self.reports[number].head.headline()
        self._remember(number, head)
        return head

    def _remember(self, number: int, head: Headline) -> None:
        self._heads[number] = head
        if len(self._heads) > HEAD_CACHE:
            self._heads.popitem(last=False)

    def report_of(self, source: int, item_key: str) -> Report | None:
        number = self._numbers.get((source, item_key))
        return self.reports[number] if number is not None else None

    def story_of(self, source: int, item_key: str) -> int | None:
        report = self.report_of(source, item_key)
        return report.story if report is not None else None

    def story_sizes(self) -> dict[int, int]:
        """Reports per story, for tests and `check`."""
        return {story: len(members) for story, members in self._stories.items()}

    def match(self, new: Candidate) -> int | None:
        """The story a new report joins, if any: the story of an article it links within the
        window (unless the page was reused for other news), else the candidate story the rules
        match best."""
        linked = self._linked_story(new)
        if linked is not None:
            return linked
        if not new.keys:
            return None
        published = new.published.timestamp()
        names = self.rare_names(new.names, published)
        reports = self._candidates(new, published, names.stories)
        if not reports:
            return None
        apart = [abs(published - r.published) / HOUR if r.story in names.stories else None for _, r in reports]
        own = frozenset(r.story for _, r in reports if r.source == new.source)
        candidates = [
            (r.story, self.head(n), hours)
            for (n, r), hours in zip(reports, apart, strict=True)
            if not ruled_out(new.head, r.head, hours, names.singular)
        ]
        return choose_story(new.head, candidates, names.common, own, names.singular)

    def _linked_story(self, new: Candidate) -> int | None:
        if not new.link:
            return None
        published = new.published.timestamp()
        reach = self.window.total_seconds()
        postings = _between(self._links.get(new.link), published - reach, published + reach)
        if not postings:
            return None
        first = min((self.reports[p & _NUMBER_MASK] for p in postings), key=lambda report: report.order)
        gap = REUSED_LINK_GAP.total_seconds()
        reused = all(
            abs(published - r.published) >= gap and different_events(new.head, self.head(n))
            for n, r in self._story_reports(first.story)
        )
        return None if reused else first.story

    def rare_names(self, names: Sequence[tuple[str, int]], published: float) -> RareNames:
        """Of a report's name keys: the names more than RARE_NAME_STORIES stories carry within
        DEVELOPING_HOURS of it (common), the stories carrying one of the others (a rare name) then,
        and the names only one story carries within SINGULAR_NAME_HOURS, with that story."""
        near, far = DEVELOPING_HOURS * HOUR, SINGULAR_NAME_HOURS * HOUR
        common: set[str] = set()
        singular: set[str] = set()
        named: set[int] = set()
        for name, key in names:
            postings = self._names.get(key)
            found = set(self._newest_stories(postings, published - near, published + near, RARE_NAME_POSTINGS))
            if len(found) > RARE_NAME_STORIES:
                common.add(name)
                continue
            named |= found
            carrying = set(self._newest_stories(postings, published - far, published + far, RARE_NAME_POSTINGS))
            if len(carrying) == 1:
                singular.add(name)
                named |= carrying
        return RareNames(frozenset(common), named, frozenset(singular))

    def _candidates(self, new: Candidate, published: float, named: set[int]) -> list[tuple[int, Report]]:
        """The reports a new report is compared with, in canonical order: the first and latest few
        of the MAX_CANDIDATE_STORIES stories sharing most keys with it within the window, and of
        the `named` ones; a story its own source told more than REVISION_HOURS before is left out."""
        reach = self.window.total_seconds()
        shared: Counter[int] = Counter()
        for key in new.keys:
            postings = self._keys.get(key)
            if postings is not None:
                shared.update(self._newest_stories(postings, published - reach, published + reach, KEY_POSTINGS))
        # The stories sharing most keys; among those sharing as many as the last one chosen, the
        # newest (by its first report). Which are chosen matters, not in what order: every report
        # chosen is compared, in canonical order.
        counts = heapq.nlargest(MAX_CANDIDATE_STORIES, shared.values())
        least = counts[-1] if len(counts) == MAX_CANDIDATE_STORIES else 0
        chosen_stories = [story for story, count in shared.items() if count > least]
        tied = [story for story, count in shared.items() if count == least]
        first = self._first_order
        chosen_stories += heapq.nlargest(MAX_CANDIDATE_STORIES - len(chosen_stories), tied, key=first)
        chosen: list[tuple[int, Report]] = []
        reports = self.reports
        for story in named.union(chosen_stories):
            members = self._stories.get(story, ())
            own = next((reports[n].published for n in reversed(members) if reports[n].source == new.source), None)
            if own is not None and published - own > REVISION_HOURS * HOUR:
                continue  # its source told it that long ago: a recurring report, not a revision
            newest = max(CANDIDATE_REPORTS_OLDEST, len(members) - CANDIDATE_REPORTS_NEWEST)
            chosen += [(n, reports[n]) for n in (*members[:CANDIDATE_REPORTS_OLDEST], *members[newest:])]
        chosen.sort(key=lambda pair: pair[1].order)
        return chosen

    def _first_order(self, story: int) -> Order:
        return self.reports[self._stories[story][0]].order

    def _newest_stories(self, postings: Postings | None, earliest: float, latest: float, limit: int) -> list[int]:
        """The stories of a key's newest `limit` postings between `earliest` and `latest`."""
        reports = self.reports
        return [reports[p & _NUMBER_MASK].story for p in _between(postings, earliest, latest)[-limit:]]

    def _story_reports(self, story: int) -> list[tuple[int, Report]]:
        """A story's reports with their numbers, in canonical order."""
        return [(number, self.reports[number]) for number in self._stories.get(story, ())]

    def _order_of(self, number: int) -> Order:
        return self.reports[number].order


def _int64s(data: bytes) -> array[int]:
    values = array("q")
    values.frombytes(data)
    return values


def _posting(published: float, number: int) -> Posting:
    return math.floor(published / MINUTE) << _NUMBER_BITS | number


def _between(postings: Postings | None, earliest: float, latest: float) -> Sequence[Posting]:
    """The postings published between `earliest` and `latest` (to the minute), oldest first."""
    low = math.floor(earliest / MINUTE) << _NUMBER_BITS
    high = math.floor(latest / MINUTE) << _NUMBER_BITS | _NUMBER_MASK
    if postings is None:
        return ()
    if isinstance(postings, int):
        return (postings,) if low <= postings <= high else ()
    return postings[bisect.bisect_left(postings, low) : bisect.bisect_right(postings, high)]


def _post(index: dict[K, Postings], key: K, posting: Posting) -> None:
    found = index.get(key)
    if found is None:
        index[key] = posting
    elif isinstance(found, int):
        index[key] = array("Q", sorted((found, posting)))
    elif posting > found[-1]:
        found.append(posting)
    else:
        bisect.insort(found, posting)


def _post_all(index: dict[int, Postings], keys: array[int], posting: Posting) -> None:
    """`_post` for each of a report's keys, a new key (most of them) without a call."""
    for key in keys:
        if key in index:
            _post(index, key, posting)
        else:
            index[key] = posting


def _unpost(index: dict[K, Postings], key: K, posting: Posting) -> None:
    found = index.get(key)
    if found is None:
        return
    if isinstance(found, int):
        if found == posting:
            del index[key]
        return
    at = bisect.bisect_left(found, posting)
    if at < len(found) and found[at] == posting:
        del found[at]
    if len(found) == 1:
        index[key] = found[0]
    elif not found:
        del index[key]
