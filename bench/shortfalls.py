"""Where storing a new entry's time goes: the profile behind the explanation of missed targets.

The storage figure's farm feeds (bench/storage.py) are parsed, prepared and saved once more as a
poll saves them (`Storing.plan` over every feed, then `Storing.write` per feed inside
`Store.batch`), into a fresh database,
with a timer around each function that does one stage of the work. The timer keeps a stack:
entering a timed function pauses the one it was called from, so each stage gets its exclusive
time and nothing is counted twice (`StoryIndex.match` without the candidate lookups and the
comparisons inside it, and so on). Stages, in microseconds per new entry and as a share of the loop:

- index: bringing the story index up to date and adding each new report to it
  (`Storing.index_for`, `StoryIndex.add`);
- candidates: finding the stories a new entry may join in the index: its link, its rare names,
  the stories sharing most keys (`StoryIndex.match`, `_linked_story`, `rare_names`, `_candidates`);
- comparing: ruling candidates out and comparing headlines (`choose_story`, `different_events`);
- writing: the rows of items, stories and topics (`Store.insert_item`, `Store.update_item`);
- search: the full-text index (`Store.index_for_search`);
- commits: `Store._commit`;
- other: everything else (`Storing.plan` and `Storing.write` themselves, looking up stored keys,
  the batch's BEGIN).

Timers, not cProfile: a profiler's hook on every call inflates the many small Python calls of
comparing far more than SQLite's, and so distorts the shares. The timers cost about a microsecond
per timed call; the profiled total is printed beside the unprofiled storage figure. The floor is
the same rows written without headline matching (`without_headline_matching` of the storage
figure, measured here when the storage section did not run).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from aggregator.core import make_aggregator
from aggregator.store import Store
from aggregator.stories import index
from aggregator.stories.index import StoryIndex
from aggregator.update.storing import Storing
from bench.common import bench_settings, progress
from bench.farm import Farm
from bench.storage import parsed_feeds, prepared_feeds, save_prepared, write_cost

STAGES = {
    "index": "keeping the story index",
    "candidates": "finding candidates in the index",
    "comparing": "ruling out and comparing headlines",
    "writing": "writing rows: items, stories, topics",
    "search": "the search index",
    "commits": "commits",
    "other": "everything else",
}
# (class or module, function, stage): every function whose exclusive time is one stage's.
TIMED: tuple[tuple[Any, str, str], ...] = (
    (Storing, "plan", "other"),
    (Storing, "write", "other"),
    (Storing, "index_for", "index"),
    (StoryIndex, "add", "index"),
    (StoryIndex, "match", "candidates"),
    (StoryIndex, "_linked_story", "candidates"),
    (StoryIndex, "rare_names", "candidates"),
    (StoryIndex, "_candidates", "candidates"),
    (index, "choose_story", "comparing"),
    (index, "different_events", "comparing"),
    (Store, "insert_item", "writing"),
    (Store, "update_item", "writing"),
    (Store, "index_for_search", "search"),
    (Store, "_commit", "commits"),
)


class StageClock:
    """Exclusive seconds per stage and calls per method, for calls made from one thread."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.calls: dict[str, int] = {}
        self._running: list[list[Any]] = []  # [stage, since] of each timed call under way, innermost last

    def wrap(self, stage: str, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.perf_counter
        seconds, calls, running = self.seconds, self.calls, self._running
        calls[name] = 0

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            now = clock()
            if running:  # the caller's stage pauses while this one runs
                outer = running[-1]
                seconds[outer[0]] += now - outer[1]
            frame: list[Any] = [stage, now]
            running.append(frame)
            calls[name] += 1
            try:
                return function(*args, **kwargs)
            finally:
                end = clock()
                running.pop()
                seconds[stage] += end - frame[1]
                if running:
                    running[-1][1] = end

        return timed

    @contextmanager
    def installed(self) -> Iterator[None]:
        """The timers in place of the methods of TIMED, and the originals back afterwards."""
        originals: list[tuple[type, str, Any]] = []
        for owner, method, _ in TIMED:
            if not callable(getattr(owner, method, None)):
                raise RuntimeError(f"{owner.__name__}.{method} is gone (renamed?): update TIMED in bench/shortfalls.py")
        try:
            for owner, method, stage in TIMED:
                # Wrapped where it is defined: the Store is made of parts, each method on one of
                # them; a function is wrapped in the module that calls it.
                defining = owner if isinstance(owner, ModuleType) else _definer(owner, method)
                original = defining.__dict__[method]
                originals.append((defining, method, original))
                setattr(defining, method, self.wrap(stage, f"{owner.__name__.rsplit('.')[-1]}.{method}", original))
            yield
        finally:
            for owner, method, original in reversed(originals):
                setattr(owner, method, original)


def profile_storage(farm: Farm, feeds: int, scratch: Path, storage: dict[str, Any] | None) -> dict[str, Any]:
    """The storage figure's feeds saved once more with stage timers: microseconds per new entry and
    share of each stage, calls per new entry of each timed method, and the floor (no matching)."""
    progress(f"profile: saving the entries of {feeds} feeds again, with a timer on each stage")
    parsed = parsed_feeds(farm, feeds)
    clock = StageClock()
    with make_aggregator(bench_settings(scratch / "profiled")) as aggregator:
        prepared = prepared_feeds(aggregator, parsed)  # not timed, as in the storage figure
        with clock.installed():
            saved, seconds = save_prepared(aggregator, prepared, match_stories=True)
    entries = max(saved, 1)
    # The loop's time outside every timed method (the batch's BEGIN, the loop) is "other" too.
    clock.seconds["other"] = max(seconds - sum(v for k, v in clock.seconds.items() if k != "other"), 0.0)
    if storage and "without_headline_matching" in storage:
        floor, floor_here = storage["without_headline_matching"]["us_per_entry"], False
    else:
        floor, floor_here = write_cost(parsed, scratch / "profile-floor", match_stories=False)["us_per_entry"], True
    unprofiled = (storage or {}).get("with_story_matching", {}).get("us_per_entry")
    return {
        "feeds": len(parsed),
        "entries": saved,
        "seconds": seconds,
        "us_per_entry": seconds / entries * 1e6,
        "unprofiled_us_per_entry": unprofiled,
        "floor_us_per_entry": floor,
        "floor_measured_here": floor_here,
        "stages": {key: _stage(label, clock.seconds[key], entries, seconds) for key, label in STAGES.items()},
        "calls_per_entry": {name: count / entries for name, count in clock.calls.items()},
    }


def _definer(owner: type, method: str) -> type:
    return next(cls for cls in owner.__mro__ if method in cls.__dict__)


def _stage(label: str, spent: float, entries: int, total: float) -> dict[str, Any]:
    return {"label": label, "us_per_entry": spent / entries * 1e6, "share": spent / total if total else 0.0}
