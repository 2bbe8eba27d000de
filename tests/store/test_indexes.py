"""Indexes the store keeps beside its tables. story_topics (kept by triggers) equals what item_topics
and stories say through every change: new items, joins, rewrites, re-topicking, pruning, removal;
the upgrade that moved story keys into memory drops their table and keeps matching stored reports."""

from __future__ import annotations

import dataclasses
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.config import DedupeSettings, OutputSettings, Settings, StorageSettings
from aggregator.core import make_aggregator
from aggregator.exceptions import StorageError
from aggregator.prepare import prepare_items
from aggregator.store import Store
from aggregator.types import Entry, FetchRecord, NewItem, SaveCounts, Source
from aggregator.update.storing import Storing

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STORM = "https://news.example/storm"
WEEK = timedelta(days=7)
DERIVED = """SELECT DISTINCT i.story_id, t.topic, s.published FROM item_topics t
             JOIN items i ON i.id = t.item_id JOIN stories s ON s.id = i.story_id ORDER BY 1, 2"""


def item(
    key: str, title: str, topics: tuple[str, ...], hours_ago: float, story_key: str, link: str | None = None
) -> NewItem:
    return NewItem(
        key=key,
        title=title,
        link=link,
        canonical_link=link,
        summary="",
        content="",
        author=None,
        published=NOW - timedelta(hours=hours_ago),
        updated=None,
        content_hash=title,
        topics=topics,
        story_key=story_key,
    )


def save(store: Store, source: Source, items: list[NewItem], window: timedelta) -> SaveCounts:
    """Store items as a poll does, at NOW, with story matching over `window`."""
    dedupe = DedupeSettings(window_hours=window.total_seconds() / 3600)
    return Storing(store, lambda: NOW).store_items(source, items, NOW, dedupe)


def assert_in_step(store: Store) -> None:
    with closing(store.db.conn.cursor()) as cursor:
        kept = cursor.execute("SELECT story_id, topic, published FROM story_topics ORDER BY 1, 2").fetchall()
        derived = cursor.execute(DERIVED).fetchall()
    assert kept == derived


def test_story_topics_follow_every_change(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    wire = store.add_source("https://wire.example/feed", None, [], None, NOW)
    desk = store.add_source("https://desk.example/feed", None, [], None, NOW)
    window = timedelta(hours=72)
    save(
        store,
        wire,
        [item("a", "Storm nears coast", ("weather",), 5, "s-a", STORM), item("b", "Oil rises", ("energy",), 4, "s-b")],
        window,
    )
    # A report from another desk joins story "a" with a topic of its own, and is older: the story's time moves.
    first_story = store.latest_stories(None, 10)[-1].id
    save(store, desk, [item("c", "Storm nears the coast", ("sports",), 8, "s-c", STORM)], window)
    assert_in_step(store)
    assert [s.id for s in store.latest_stories("sports", 10)] == [first_story]

    # A rewrite that changes the item's topics.
    save(store, wire, [item("a", "Storm makes landfall", ("energy",), 5, "s-a", STORM)], window)
    assert_in_step(store)

    store.retopic_items(lambda facts: ("world",) if "Storm" in facts.title else ())
    assert_in_step(store)
    assert {s.id for s in store.latest_stories("world", 10)} == {first_story}
    assert store.latest_stories("energy", 10) == []

    store.prune(NOW - timedelta(hours=6), keep_per_source=0, now=NOW)  # drops "c": the story's time moves back
    assert_in_step(store)
    store.remove_source(wire.id, keep_items=False, now=NOW)
    assert_in_step(store)
    with closing(store.db.conn.cursor()) as cursor:
        assert cursor.execute("SELECT COUNT(*) FROM story_topics").fetchone() == (0,)
    store.close()


def test_topic_feed_order_is_the_story_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    source = store.add_source("https://wire.example/feed", None, [], None, NOW)
    save(
        store,
        source,
        [item(str(n), f"Story {n}", ("world",) if n % 2 else ("world", "sports"), n, f"s{n}") for n in range(10)],
        timedelta(hours=72),
    )
    assert [s.reports[0].title for s in store.latest_stories("world", 4)] == [
        "Story 0",
        "Story 1",
        "Story 2",
        "Story 3",
    ]
    assert [s.reports[0].title for s in store.latest_stories("sports", 3)] == ["Story 0", "Story 2", "Story 4"]
    store.close()


def test_the_stories_of_several_feeds_at_once_are_each_feeds_own(tmp_path: Path) -> None:
    """A publish reads every feed's stories at once, each story's reports once; each feed gets what
    asking for it alone gives, with a story the feeds share read into one object."""
    store = Store(tmp_path / "t.db")
    wire = store.add_source("https://wire.example/feed", None, [], None, NOW)
    desk = store.add_source("https://desk.example/feed", None, [], None, NOW)
    topics = [("world",), ("world", "sports"), ("sports",), ()]
    save(
        store,
        wire,
        [item(str(n), f"Story {n}", topics[n % 4], n, f"s{n}", f"https://n.example/{n}") for n in range(12)],
        WEEK,
    )
    save(store, desk, [item("late", "Story 1 again", ("sports",), 0.5, "s-late", "https://n.example/1")], WEEK)
    feeds = [None, "world", "sports", "energy"]
    together = store.latest_stories_of(feeds, 5)
    assert together == [store.latest_stories(topic, 5) for topic in feeds]
    merged, world, sports, energy = together
    assert [len(s.reports) for s in merged] == [1, 2, 1, 1, 1]
    assert [s.first.title for s in world] == ["Story 0", "Story 1", "Story 4", "Story 5", "Story 8"]
    assert [s.first.title for s in sports] == ["Story 1", "Story 2", "Story 5", "Story 6", "Story 9"]
    assert sports[0] is merged[1] is world[1] and energy == []
    store.close()


def test_upgrading_drops_the_story_key_table_and_the_words_column(tmp_path: Path) -> None:
    # A database from before the story index in memory: its key table and words column go, its
    # items stay, and a report stored before the upgrade is still matched after it.
    settings = Settings(storage=StorageSettings(tmp_path / "t.db"), output=OutputSettings(dir=tmp_path / "public"))
    with make_aggregator(settings) as aggregator:
        first, second = (
            aggregator.store.add_source(f"https://{name}.example/feed", None, [], None, NOW) for name in "ab"
        )
        copy = Entry("wire-1", "Typhoon Senbai makes landfall in Fujian", None, published=NOW)
        (stored,) = prepare_items(first, [copy], aggregator.matcher)
        aggregator.pipeline.storing.store_items(first, [stored], NOW, settings.dedupe)
        db = aggregator.store.db
        db.execute("CREATE TABLE story_keys (key INTEGER, published TEXT, story_id INTEGER)")
        db.execute("ALTER TABLE items ADD COLUMN match_words TEXT")
        db.execute("INSERT INTO meta (key, value) VALUES ('story_keys_stale', '1')")
        db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm017_story_index_in_memory'")
        db.conn.commit()

    with make_aggregator(settings) as upgraded:
        db = upgraded.store.db
        assert "story_keys" not in db.utils.table_names()
        assert "match_words" not in db.utils["items"].columns_dict
        assert upgraded.store.optional_meta("story_keys_stale") is None
        (syndicated,) = prepare_items(
            second, [dataclasses.replace(copy, title="UPDATE 1-" + copy.title)], upgraded.matcher
        )
        assert upgraded.pipeline.storing.store_items(second, [syndicated], NOW, settings.dedupe).merged == 1


def test_a_fetch_recorded_in_a_batch_that_cannot_be_written_is_one_plain_error(tmp_path: Path) -> None:
    # In a batch, a source's fetch is written without a savepoint of its own; a failed write is
    # still the store's one-sentence error, and the batch keeps nothing of it.
    store = Store(tmp_path / "t.db")
    source = store.add_source("https://a.example/feed", None, [], None, NOW)
    store.db.execute("CREATE TEMP TRIGGER refuse BEFORE UPDATE ON sources BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    try:
        with store.batch():
            store.record_fetch(source.id, FetchRecord(last_status=304))
    except StorageError as error:
        assert str(error) == f"The database {tmp_path / 't.db'} could not be written: disk full."
    else:
        raise AssertionError("the write was refused, yet no error was raised")
    assert store.source(source.id).last_status is None
