"""The stories a wire produces depend on its items only: not on the order its feeds are fetched in,
nor on how many polls bring them or how many items each brings. Every poll's new items are matched
in the canonical order (published, source, item key); a wire whose items arrive as they are
published is matched in that order whatever the polls' sizes.

The wire is the first part of the tuned labelled set (tests/data/stories/eval.jsonl), one feed per
outlet, through the real pipeline over a fake fetcher and clock.
"""

from __future__ import annotations

import random
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from conftest import rss
from fakes import FakeClock, FakeFetcher, aggregator_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.config import PollSettings
from aggregator.types import FetchResult, Source
from bench.storyeval import EVAL_SET, load_eval_set

ROWS = load_eval_set(EVAL_SET)[:140]
OUTLETS = sorted({row["outlet"] for row in ROWS})
TIMES = sorted({datetime.fromisoformat(row["published"].replace("Z", "+00:00")) for row in ROWS})
Partition = frozenset[frozenset[str]]


class ShuffledFetcher(FakeFetcher):
    """A FakeFetcher that answers the sources in an order of its own, as a loaded network does."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.random = random.Random(seed)

    async def __call__(self, sources: Sequence[Source], settings: PollSettings, on_result=None) -> list[FetchResult]:  # type: ignore[no-untyped-def]
        order = list(sources)
        self.random.shuffle(order)
        answered = dict(zip((s.url for s in order), await super().__call__(order, settings, on_result), strict=True))
        return [answered[source.url] for source in sources]


def feed_url(outlet: str) -> str:
    return f"https://feeds.{OUTLETS.index(outlet)}.example/feed.xml"


def published(row: dict[str, str]) -> datetime:
    return datetime.fromisoformat(row["published"].replace("Z", "+00:00"))


def documents(until: datetime) -> dict[str, bytes]:
    """Each outlet's feed as it reads at `until`: its items published by then, newest first."""
    by_outlet: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in ROWS:
        if published(row) <= until:
            by_outlet[row["outlet"]].append(row)
    return {
        feed_url(outlet): rss(
            [(r["id"], r["title"], r["link"] or None, published(r), r["summary"]) for r in reversed(rows)]
        )
        for outlet, rows in by_outlet.items()
    }


def stories_of(folder: Path, cuts: Sequence[datetime], seed: int) -> Partition:
    """The stories the wire gives when polled at each of `cuts` (the last after every item), with
    the feeds answering in an order drawn from `seed`."""
    clock = FakeClock(cuts[0])
    fetcher = ShuffledFetcher(seed)
    with aggregator_in(folder, clock, fetcher) as aggregator:
        for outlet in OUTLETS:
            aggregator.add_source(feed_url(outlet), name=outlet)
        for cut in cuts:
            clock.now = cut
            fetcher.documents = documents(cut)
            summary = aggregator.poll(every_source=True, publish=False)
            assert not [o.error for o in summary.outcomes if o.error and o.error != "HTTP 404"]
        rows = aggregator.store.db.execute("SELECT key, story_id FROM items").fetchall()
    assert len(rows) == len(ROWS)
    by_story: dict[int, set[str]] = defaultdict(set)
    for key, story_id in rows:
        by_story[story_id].add(key)
    return frozenset(frozenset(keys) for keys in by_story.values())


@cache
def one_poll() -> Partition:
    """The stories of the whole wire in one poll, the feeds answering in the order they were added."""
    with tempfile.TemporaryDirectory(prefix="offthewire-order-") as folder:
        return stories_of(Path(folder), [TIMES[-1] + timedelta(minutes=1)], seed=0)


def test_the_wire_has_stories_of_several_reports() -> None:
    # The property below is worth something only if the wire joins reports into stories.
    assert len(OUTLETS) >= 8
    assert sum(len(story) > 1 for story in one_poll()) >= 10


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    cut_points=st.lists(st.integers(0, len(TIMES) - 1), max_size=5, unique=True),
)
def test_the_stories_do_not_depend_on_fetch_order_or_on_the_polls(
    tmp_path_factory: pytest.TempPathFactory, seed: int, cut_points: list[int]
) -> None:
    cuts = [TIMES[point] for point in sorted(cut_points)] + [TIMES[-1] + timedelta(minutes=1)]

    found = stories_of(tmp_path_factory.mktemp("polls"), cuts, seed)

    assert found == one_poll()
