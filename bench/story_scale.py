"""Story matching cost per new item as the archive grows: 10k, 100k (and, on request, 1M) stored items.

    python -m bench.story_scale [--sizes 10000 100000 1000000] [--probes 300] [--narrow]

Each size is a database filled with synthetic stories (the benchmark farm's wire headlines, or
with `--narrow` headlines drawn from about 300 words, so that many share each key and the caps on
candidates bound the cost; spread over 30 days, so the 72-hour window holds a tenth of them);
then new items, a third of them
copies of stored headlines, are stored through the real path: the story index is built from the
window (the start of a process that stores), the items matched in canonical order (`plan`) and
written in one transaction. The figures are the build and, per new item, matching and writing;
the baseline is the same at the smallest size, so a flat ratio means the cost does not grow with
the archive.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.config import OutputSettings, Settings, StorageSettings
from aggregator.core import make_aggregator
from aggregator.store import to_text
from aggregator.types import Entry
from bench import wire

VOCABULARY = (
    "minister talks border trade deal bank rates inflation storm flood quake election vote court ruling strike "
    "port airline jets order chip factory oil gas solar wind drought harvest rice wheat exports imports budget "
    "parliament senate protest police fire rescue mine coal steel tariff yen euro dollar market shares record "
    "league final coach striker injury title match season transfer launch rocket satellite vaccine virus study"
).split()
PLACES = "Lisbon Fujian Oslo Kerala Sumatra Hokkaido Lagos Lima Quito Cairo Dakar Hanoi Perth Bergen Porto".split()
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


# The narrow vocabulary: the common words above, plus made-up names.
NAMES = [
    a + b + c
    for a in ("ka", "lo", "mer", "san", "vel", "tor")
    for b in ("ri", "va", "den", "qu", "ste")
    for c in ("n", "x", "ra", "lia", "ton", "do", "mo")
]


def synthetic_headline(rng: random.Random) -> str:
    words = rng.sample(VOCABULARY, 4) + rng.sample(NAMES, 2)
    return f"{rng.choice(PLACES)} {' '.join(words)} {rng.randint(2, 999)}"


def fill(
    folder: Path, size: int, rng: random.Random, make_headline: Callable[[random.Random], str]
) -> tuple[Settings, list[str]]:
    settings = Settings(storage=StorageSettings(folder / f"scale-{size}.db"), output=OutputSettings(dir=folder / "out"))
    headlines = [make_headline(rng) for _ in range(size)]
    with make_aggregator(settings) as aggregator:
        source = aggregator.add_source("https://archive.example/feed.xml")
        db = aggregator.store.db
        db.execute("BEGIN")
        stories, items = [], []
        for number, title in enumerate(headlines, start=1):
            published = to_text(NOW - timedelta(minutes=rng.randint(0, 30 * 24 * 60)))
            stories.append((number, f"story-{number}", published, published))
            items.append((number, source.id, f"id:{number}", number, title, published, published, published, "x"))
        db.conn.executemany("INSERT INTO stories (id, key, published, updated) VALUES (?, ?, ?, ?)", stories)
        db.conn.executemany(
            "INSERT INTO items (id, source_id, key, story_id, title, published, updated, first_seen, content_hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            items,
        )
        db.execute("COMMIT")
        db.execute("ANALYZE")
    return settings, headlines


@dataclass(frozen=True)
class Timing:
    """One size's figures: the index built (seconds, reports), and per new item matching and writing."""

    build: float
    reports: int
    matching: float
    writing: float


def measure(
    settings: Settings,
    headlines: list[str],
    probes: int,
    rng: random.Random,
    make_headline: Callable[[random.Random], str],
) -> Timing:
    with make_aggregator(settings) as aggregator:
        source = aggregator.add_source("https://newcomer.example/feed.xml")
        entries = [
            Entry(
                guid=f"probe-{n}",
                title=rng.choice(headlines) if n % 3 == 0 else make_headline(rng),
                link=None,
                published=NOW - timedelta(minutes=rng.randint(0, 60)),
            )
            for n in range(probes)
        ]
        prepared = aggregator.pipeline.prepare_items(source, entries)
        storing, dedupe = aggregator.pipeline.storing, aggregator.settings.dedupe
        started = time.perf_counter()
        index = storing.index_for(NOW, dedupe, min(entry.published or NOW for entry in entries))
        built = time.perf_counter()
        [plan] = storing.plan([(source, prepared)], NOW, dedupe)
        matched = time.perf_counter()
        # One transaction for the batch, as a poll stores one source's new entries.
        with aggregator.store.transaction():
            storing.write(plan, NOW)
        storing.settle(plan)
        written = time.perf_counter()
        return Timing(built - started, len(index), (matched - built) / probes, (written - matched) / probes)


def archive_figures(path: Path, probes: int = 300) -> dict[str, Any]:
    """Over the publish figure's archive (bench/storage.py): the story index loaded from its window,
    as a process that stores starts (the first time, every headline prepared from the items; then
    as a restarted process takes it, from the index saved beside the database), and the cost of
    matching new entries against it (planned, not written: the archive stays as it is). "Now" is
    the archive's newest item."""
    rng = random.Random(probes)
    settings = Settings(storage=StorageSettings(path), output=OutputSettings(dir=path.parent / "scale-out"))
    with make_aggregator(settings) as aggregator:
        store, storing, dedupe = aggregator.store, aggregator.pipeline.storing, aggregator.settings.dedupe
        stored = store.db.execute("SELECT COUNT(*), MAX(published) FROM items").fetchone()
        now = datetime.fromisoformat(stored[1])
        assert storing.index_file is not None
        storing.index_file.unlink(missing_ok=True)
        started = time.perf_counter()
        storing.index_for(now, dedupe)
        first_load = time.perf_counter() - started
        storing.save()
        storing.forget()
        started = time.perf_counter()
        index = storing.index_for(now, dedupe)
        loaded = time.perf_counter() - started
        recent = [report.head.title for report in index.reports[-5000:] if report.head.title]
        source = aggregator.sources()[-1]  # one of the archive's: nothing is written to it
        entries = [
            Entry(
                guid=f"probe-{n}",
                title=rng.choice(recent) if n % 3 == 0 else wire.headline(rng),
                link=None,
                published=now - timedelta(minutes=rng.randint(0, 60)),
            )
            for n in range(probes)
        ]
        prepared = aggregator.pipeline.prepare_items(source, entries)
        # The window reaches back from the oldest probe: the index takes in that hour first, so
        # that the figure is matching alone.
        storing.index_for(now, dedupe, min(entry.published or now for entry in entries))
        started = time.perf_counter()
        storing.plan([(source, prepared)], now, dedupe)
        matching = (time.perf_counter() - started) / probes
        storing.forget()  # the probes are not stored: the index saved at close must not hold them
    return {
        "items": stored[0],
        "window_reports": len(index),
        "first_load_s": first_load,
        "load_s": loaded,
        "matching_us": matching * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.story_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--probes", type=int, default=300)
    parser.add_argument(
        "--narrow", action="store_true", help="headlines from ~300 words, so keys collide: the bounded worst case"
    )
    args = parser.parse_args()
    rng = random.Random(20261128)
    make_headline = synthetic_headline if args.narrow else wire.headline
    results = []
    with tempfile.TemporaryDirectory(prefix="offthewire-scale-") as scratch:
        for size in args.sizes:
            started = time.perf_counter()
            settings, headlines = fill(Path(scratch), size, rng, make_headline)
            built = time.perf_counter() - started
            results.append((size, measure(settings, headlines, args.probes, rng, make_headline), built))
    base = results[0][1].matching
    print(
        f"{'stored items':>12}  {'index built':>11}  {'(reports)':>9}  {'matching':>9}  {'vs smallest':>11}"
        f"  {'writing':>9}  {'(db filled in)':>14}"
    )
    for size, timing, built in results:
        print(
            f"{size:>12,}  {timing.build:>9.2f} s  {timing.reports:>9,}  {timing.matching * 1e6:>6.0f} us"
            f"  {timing.matching / base:>10.2f}x  {timing.writing * 1e6:>6.0f} us  {built:>12.1f} s"
        )


if __name__ == "__main__":
    main()
