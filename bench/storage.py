"""Storage figures: the cost of writing new entries, and of publishing with a large archive.

- writes: the farm's feeds are parsed and prepared first (not timed); then their entries are saved
  as a poll saves them (`Storing.plan` over every feed, then each feed written, committed together
  by `Store.batch`), with story matching on (the figure the target is about) and, for comparison,
  off.
- publish: `Aggregator.publish()` (the merged feed and every topic feed, in every format) with
  1,000,000 items stored (100,000 in quick mode), and the store queries behind it on their own.
  The archive is built with bulk SQL into the schema the store's own migrations create, and
  kept under the user's cache folder (`~/.cache/offthewire-bench/`), so only the first run pays
  for it; a change to the schema makes a new one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.core import Aggregator, make_aggregator, utc_now
from aggregator.parse import parse_feed
from aggregator.store import Store, to_text
from aggregator.types import Entry, NewItem, Source
from bench.common import TOPICS, bench_settings, progress, timed
from bench.farm import Farm
from bench.wire import headline, sentence

ARCHIVE_VERSION = 2  # bump when the generated archive changes shape
ARCHIVE_SOURCES = 2000
ARCHIVE_DAYS = 30
JOIN_SHARE = 0.3  # items that join a story already told by another source
CHUNK = 50_000
PUBLISH_REPEATS = 3
SLUGS = [t.slug for t in TOPICS]
_TAG = re.compile(r"<[^>]*>")
Row = tuple[Any, ...]
Prepared = tuple[Source, list[NewItem]]


# Writes


def parsed_feeds(farm: Farm, feeds: int) -> list[tuple[str, tuple[Entry, ...]]]:
    """The first `feeds` farm feeds, parsed as a poll parses them: (URL, entries)."""
    now = utc_now()
    parsed = []
    for index in range(feeds):
        version, url = farm.version(index, 0), f"https://feeds.example{farm.path(index)}"
        parsed.append((url, parse_feed(version.body, {"content-type": version.content_type}, url, now).entries))
    return parsed


def prepared_feeds(aggregator: Aggregator, parsed: list[tuple[str, tuple[Entry, ...]]]) -> list[Prepared]:
    """Each feed subscribed and its entries prepared as a poll would, ready to be saved."""
    prepared = []
    for url, entries in parsed:
        source = aggregator.add_source(url)
        prepared.append((source, aggregator.pipeline.prepare_items(source, entries)))
    return prepared


def write_cost(parsed: list[tuple[str, tuple[Entry, ...]]], folder: Path, match_stories: bool) -> dict[str, Any]:
    """Microseconds per new entry saved as a poll saves them (`save_prepared`); without matching, the
    same with no keys to find candidates by."""
    with make_aggregator(bench_settings(folder)) as aggregator:
        prepared = prepared_feeds(aggregator, parsed)
        saved, seconds = save_prepared(aggregator, prepared, match_stories)
    per_entry = seconds / max(saved, 1) * 1e6
    return {"entries": saved, "feeds": len(parsed), "seconds": seconds, "us_per_entry": per_entry}


def save_prepared(aggregator: Aggregator, prepared: list[Prepared], match_stories: bool) -> tuple[int, float]:
    """Save prepared feeds as a poll saves them: every feed's new entries matched to stories together
    (`Storing.plan`), then each feed written in a transaction of its own, committed together by
    `Store.batch`: new entries saved and seconds taken (bench/shortfalls.py times the stages)."""
    if not match_stories:  # only a shared link still joins a story
        prepared = [
            (source, [dataclasses.replace(item, match_keys=()) for item in items]) for source, items in prepared
        ]
    now = utc_now()
    storing, dedupe = aggregator.pipeline.storing, aggregator.settings.dedupe
    saved = 0
    started = time.perf_counter()
    plans = storing.plan(prepared, now, dedupe)
    with aggregator.store.batch() as checkpoint:
        for plan in plans:
            with aggregator.store.transaction():
                saved += storing.write(plan, now).new
            storing.settle(plan)
            checkpoint()
    storing.finish_poll()
    return saved, time.perf_counter() - started


def write_figures(farm: Farm, feeds: int, scratch: Path) -> dict[str, Any]:
    progress(f"storage: saving the entries of {feeds} feeds as a poll saves them")
    parsed = parsed_feeds(farm, feeds)
    return {
        "with_story_matching": write_cost(parsed, scratch / "writes-matching", match_stories=True),
        "without_headline_matching": write_cost(parsed, scratch / "writes-plain", match_stories=False),
    }


# The archive for publishing


def cache_folder() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "offthewire-bench"


def schema_key() -> str:
    """A digest of the schema the store's migrations create today."""
    with tempfile.TemporaryDirectory(prefix="offthewire-schema-") as scratch:
        store = Store(Path(scratch) / "schema.db")
        rows = store.db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        store.close()
    return hashlib.sha256(f"{ARCHIVE_VERSION}{rows!r}".encode()).hexdigest()[:12]


def topic_rules() -> str:
    """The rules stamp the aggregator keeps in `meta`, so the first publish does not re-topic every item."""
    return json.dumps([dataclasses.asdict(t) for t in TOPICS] + [[]])


def archive(items: int) -> Path:
    """The cached archive of `items` items, built when missing."""
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"archive-{items}-{schema_key()}.db"
    if path.exists():
        return path
    for stale in folder.glob(f"archive-{items}-*.db*"):
        stale.unlink()
    progress(f"publish: building an archive of {items:,} items in {path} (once; later runs reuse it)")
    started = time.perf_counter()
    building = path.with_suffix(".building")
    for leftover in folder.glob(building.name + "*"):
        leftover.unlink()
    build_archive(building, items, random.Random(items))
    building.rename(path)
    progress(f"publish: archive built in {time.perf_counter() - started:.0f} s")
    return path


def build_archive(path: Path, count: int, rng: random.Random) -> None:
    """Sources, stories, items, their topics and search rows, written with bulk SQL into the migrated
    schema (its triggers fill what they fill), in time order, a chunk per transaction."""
    store = Store(path)
    conn = store.db.conn
    conn.execute("PRAGMA synchronous = OFF")
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = to_text(now)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sources (id, url, name, topics, created_at, feed_title, feed_link, last_status, next_fetch_at)"
        " VALUES (?, ?, NULL, '[]', ?, ?, ?, 200, ?)",
        [
            (n, f"https://feeds.example/{n}.xml", stamp, f"Outlet {n}", f"https://outlet{n}.example/", stamp)
            for n in range(1, ARCHIVE_SOURCES + 1)
        ],
    )
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('topic_rules', ?)", [topic_rules()])
    conn.execute("COMMIT")
    searchable = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'items_search'").fetchone() is not None
    start, step = now - timedelta(days=ARCHIVE_DAYS), timedelta(days=ARCHIVE_DAYS) / count
    stories = 0
    for first in range(0, count, CHUNK):
        items, topics, new_stories = [], [], []
        for number in range(first + 1, min(count, first + CHUNK) + 1):
            when = to_text(start + step * number)
            # A share of items join a story told a little earlier; the rest start one.
            if stories and rng.random() < JOIN_SHARE:
                story_id = rng.randint(max(1, stories - 500), stories)
            else:
                stories += 1
                story_id = stories
                new_stories.append((story_id, f"archive-story-{story_id}", when, when))
            row, pairs = _archive_item(number, story_id, when, rng)
            items.append(row)
            topics += pairs
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO stories (id, key, published, updated) VALUES (?, ?, ?, ?)", new_stories)
        conn.executemany(
            "INSERT INTO items (id, source_id, key, story_id, title, link, canonical_link, summary, author,"
            " published, updated, first_seen, content_hash, categories, language)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', 'en')",
            items,
        )
        conn.executemany("INSERT INTO item_topics (item_id, topic) VALUES (?, ?)", topics)
        if searchable:
            conn.executemany(
                "INSERT INTO items_search (rowid, title, summary) VALUES (?, ?, ?)",
                [(row[0], row[4], _TAG.sub(" ", row[7])) for row in items],
            )
        conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.execute("UPDATE stories SET updated = (SELECT MAX(updated) FROM items WHERE story_id = stories.id)")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


def _archive_item(item_id: int, story_id: int, when: str, rng: random.Random) -> tuple[Row, list[tuple[int, str]]]:
    source_id = rng.randint(1, ARCHIVE_SOURCES)
    link = f"https://outlet{source_id}.example/a/{item_id}"
    summary = f"<p>{sentence(rng)} {sentence(rng)}</p>"
    topics = rng.sample(SLUGS, 1 if rng.random() < 0.8 else 2) if rng.random() < 0.95 else []
    title, key = headline(rng), f"h{item_id}"
    row = (item_id, source_id, link, story_id, title, link, link, summary, "Staff", when, when, when, key)
    return row, [(item_id, topic) for topic in topics]


def publish_figures(items: int, scratch: Path) -> dict[str, Any]:
    """Milliseconds to publish every feed with `items` stored, and of that the store's queries."""
    path = archive(items)
    settings = bench_settings(scratch / "publish", database=path)
    with make_aggregator(settings) as aggregator:
        aggregator.publish()  # the first publish writes every file; later ones render and compare
        publishes = [timed(aggregator.publish)[0] for _ in range(PUBLISH_REPEATS)]
        queries = [timed(lambda: _queries(aggregator))[0] for _ in range(PUBLISH_REPEATS)]
        feeds = 1 + len(aggregator.topics())
    return {
        "items": items,
        "feeds": feeds,
        "publish_ms": statistics.median(publishes) * 1000,
        "queries_ms": statistics.median(queries) * 1000,
        "runs_ms": [s * 1000 for s in publishes],
        "database": str(path),
        "database_mb": path.stat().st_size / 1e6,
    }


def _queries(aggregator: Aggregator) -> None:
    """The store queries a publish makes for its feeds: each feed's newest stories with their reports."""
    aggregator.store.latest_stories_of([None, *aggregator.feed_topics()], aggregator.settings.output.limit)
