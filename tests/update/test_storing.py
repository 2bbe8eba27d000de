"""Storing one source's items, called directly over a real store: how a revision counts (`revise`),
a new item joining the story of an article it links within the window and not outside it, unless
the page was reused for other news (a report naming other places a day or more later is a new
story; an update within the day is not), a revised item updated in place, and an item retention
pruned not stored again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeClock

from aggregator.config import DedupeSettings, OutputSettings, Settings, StorageSettings
from aggregator.core import make_aggregator
from aggregator.prepare import prepare_items
from aggregator.store import Store
from aggregator.topics import TopicMatcher
from aggregator.types import Entry, NewItem, Source, StoredItem, WindowReport
from aggregator.update.storing import Storing, revise

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DEDUPE = DedupeSettings(window_hours=72, republish_updates=True, max_revisions=3)
ARTICLE = "https://news.example/2026/11/20/harbour"


# revise


def stored(revisions: int = 0, since: datetime | None = None, updated: datetime | None = NOW) -> StoredItem:
    return StoredItem(id=1, content_hash="old", updated=updated, story_id=1, revisions=revisions, revisions_since=since)


def item(updated: datetime | None = None) -> NewItem:
    return NewItem(
        key="id:1",
        title="Cranes idle",
        link=None,
        canonical_link=None,
        summary="",
        content="",
        author=None,
        published=NOW - timedelta(hours=5),
        updated=updated,
        content_hash="new",
        topics=(),
        story_key="story",
    )


def test_a_first_revision_starts_the_days_count_and_moves_the_story() -> None:
    later = NOW + timedelta(hours=1)

    revision = revise(stored(), item(), later, DEDUPE)

    assert (revision.revisions, revision.since, revision.moves_story) == (1, later, True)
    assert revision.updated == later, "no date of its own: the moment the change was seen"


def test_revisions_are_counted_within_a_day_and_stop_moving_the_story_past_the_limit() -> None:
    since = NOW - timedelta(hours=20)

    third = revise(stored(2, since), item(), NOW, DEDUPE)
    fourth = revise(stored(3, since), item(), NOW, DEDUPE)

    assert (third.revisions, third.since, third.moves_story) == (3, since, True)
    assert (fourth.revisions, fourth.since, fourth.moves_story) == (4, since, False)


def test_the_count_starts_again_a_day_later() -> None:
    since = NOW - timedelta(days=1)

    revision = revise(stored(7, since), item(), NOW, DEDUPE)

    assert (revision.revisions, revision.since, revision.moves_story) == (1, NOW, True)


def test_no_revision_moves_the_story_when_updates_are_not_republished() -> None:
    quiet = DedupeSettings(republish_updates=False)

    assert not revise(stored(), item(), NOW, quiet).moves_story


def test_the_entrys_own_date_wins_only_when_it_moved_forward() -> None:
    before = NOW - timedelta(hours=2)
    seen = NOW

    forward = revise(stored(updated=before), item(updated=before + timedelta(minutes=30)), seen, DEDUPE)
    same = revise(stored(updated=before), item(updated=before), seen, DEDUPE)
    backward = revise(stored(updated=before), item(updated=before - timedelta(hours=1)), seen, DEDUPE)

    assert forward.updated == before + timedelta(minutes=30)
    assert same.updated == seen
    assert backward.updated == seen


def test_an_update_time_already_ahead_of_now_is_not_moved_back() -> None:
    ahead = NOW + timedelta(minutes=10)

    assert revise(stored(updated=ahead), item(), NOW, DEDUPE).updated == ahead


# Storing.store_items


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "offthewire.db")
    yield store
    store.close()


@pytest.fixture
def storing(store: Store) -> Storing:
    return Storing(store, FakeClock(NOW))


MATCHER = TopicMatcher(())


def subscribe(store: Store, host: str) -> Source:
    return store.add_source(f"https://{host}/feed", None, [], None, NOW)


def prepared(source: Source, title: str, link: str | None, published: datetime, guid: str = "1") -> NewItem:
    entry = Entry(guid=guid, title=title, link=link, published=published, updated=published)
    [new] = prepare_items(source, [entry], MATCHER)
    return new


def story_of(store: Store, source: Source, key: str) -> int:
    return store.stored_items(source.id, [key])[key].story_id


def test_an_item_linking_an_article_joins_its_story_within_the_window(store: Store, storing: Storing) -> None:
    first, second = subscribe(store, "first.example"), subscribe(store, "second.example")
    storing.store_items(first, [prepared(first, "Harbour cranes idle in dockers strike", ARTICLE, NOW)], NOW, DEDUPE)
    # A headline the story rules would never match: only the shared link joins them.
    other = prepared(second, "Orchard frost ruins apples", ARTICLE + "?utm_source=feed", NOW + timedelta(hours=2))

    counts = storing.store_items(second, [other], NOW + timedelta(hours=2), DEDUPE)

    assert (counts.new, counts.updated, counts.merged) == (1, 0, 1)
    assert story_of(store, second, other.key) == story_of(store, first, other.key)


def test_the_index_reads_only_the_items_another_process_stored(
    store: Store, storing: Storing, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = subscribe(store, "first.example"), subscribe(store, "second.example")
    storing.store_items(first, [prepared(first, "Harbour cranes idle in dockers strike", ARTICLE, NOW)], NOW, DEDUPE)
    storing.store_items(first, [prepared(first, "Orchard frost ruins apples", None, NOW, guid="2")], NOW, DEDUPE)
    # Another process stores a copy of the first report: it joins no story here, it is only written.
    elsewhere = prepared(second, "Harbour cranes idle in dockers strike", None, NOW)
    foreign_id, foreign_story = store.insert_item(second.id, elsewhere, NOW, None)
    read: list[int] = []
    reading = store.window_reports

    def window_reports(*args: Any, **kwargs: Any) -> list[WindowReport]:
        rows = reading(*args, **kwargs)
        read.extend(row.item_id for row in rows)
        return rows

    monkeypatch.setattr(store, "window_reports", window_reports)

    index = storing.index_for(NOW, DEDUPE)

    assert read == [foreign_id]
    assert index.story_of(second.id, elsewhere.key) == foreign_story
    storing.index_for(NOW, DEDUPE)
    assert read == [foreign_id]  # nothing read twice


def test_the_index_is_built_again_after_pruning_only_when_the_window_reached_what_was_pruned(
    store: Store, storing: Storing
) -> None:
    index = storing.index_for(NOW, DEDUPE)

    storing.pruned(NOW - timedelta(days=30))  # retention's edge, far behind the 72-hour window
    assert storing.index_for(NOW, DEDUPE) is index
    storing.pruned(NOW - timedelta(hours=10))
    assert storing.index_for(NOW, DEDUPE) is not index


def test_an_item_linking_an_article_outside_the_window_starts_its_own_story(store: Store, storing: Storing) -> None:
    first, second = subscribe(store, "first.example"), subscribe(store, "second.example")
    storing.store_items(first, [prepared(first, "Harbour cranes idle in dockers strike", ARTICLE, NOW)], NOW, DEDUPE)
    later = NOW + timedelta(hours=DEDUPE.window_hours + 1)
    other = prepared(second, "Orchard frost ruins apples", ARTICLE, later)

    counts = storing.store_items(second, [other], later, DEDUPE)

    assert (counts.new, counts.merged) == (1, 0)
    assert story_of(store, second, other.key) != story_of(store, first, other.key)


def test_a_changed_item_is_revised_and_an_unchanged_one_is_left_alone(store: Store, storing: Storing) -> None:
    source = subscribe(store, "wire.example")
    original = prepared(source, "Harbour cranes idle", ARTICLE, NOW)
    storing.store_items(source, [original], NOW, DEDUPE)

    unchanged = storing.store_items(source, [original], NOW + timedelta(minutes=5), DEDUPE)
    changed = prepared(source, "Harbour cranes idle for a second day", ARTICLE, NOW)
    revised = storing.store_items(source, [changed], NOW + timedelta(minutes=10), DEDUPE)

    assert (unchanged.new, unchanged.updated) == (0, 0)
    assert (revised.new, revised.updated) == (0, 1)
    [again] = store.stored_items(source.id, [original.key]).values()
    assert (again.content_hash, again.revisions) == (changed.content_hash, 1)
    assert [i.title for i in store.items()] == ["Harbour cranes idle for a second day"]


def test_a_pruned_item_is_not_stored_again(store: Store, storing: Storing) -> None:
    source = subscribe(store, "wire.example")
    old = prepared(source, "Harbour cranes idle", ARTICLE, NOW - timedelta(days=40), guid="old")
    fresh = prepared(source, "Orchard frost ruins apples", None, NOW, guid="fresh")
    storing.store_items(source, [old, fresh], NOW, DEDUPE)
    assert store.prune(NOW - timedelta(days=30), keep_per_source=1, now=NOW) == 1

    counts = storing.store_items(source, [old, fresh], NOW + timedelta(hours=1), DEDUPE)

    assert (counts.new, counts.updated) == (0, 0)
    assert [i.title for i in store.items()] == ["Orchard frost ruins apples"]


def test_nothing_is_stored_for_a_source_removed_meanwhile(store: Store, storing: Storing) -> None:
    source = subscribe(store, "wire.example")
    store.remove_source(source.id, keep_items=False, now=NOW)

    counts = storing.store_items(source, [prepared(source, "Harbour cranes idle", ARTICLE, NOW)], NOW, DEDUPE)

    assert (counts.new, counts.updated, counts.merged) == (0, 0, 0)
    assert store.items() == []


# A page reused for other news


T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
PAGE = "https://weather.example/warnings/current"
QUAKE = "https://wire.example/world/quake-magnitude-6-1-strikes-off-hokkaido"


def story_ids(folder: Path, reports: list[tuple[str, str, str, datetime]]) -> list[int]:
    """Store each (outlet, title, link, published) as its own outlet would; their story ids."""
    settings = Settings(storage=StorageSettings(folder / "t.db"), output=OutputSettings(dir=folder / "public"))
    ids = []
    with make_aggregator(settings, clock=lambda: T0 + timedelta(days=5)) as aggregator:
        for n, (outlet, title, link, published) in enumerate(reports):
            source = aggregator.add_source(f"https://{outlet}.example/feed")
            [item] = aggregator.pipeline.prepare_items(source, [Entry(f"g{n}", title, link, published=published)])
            aggregator.pipeline.storing.store_items(source, [item], published, settings.dedupe)
            [stored] = aggregator.store.items(source_id=source.id, limit=1)
            ids.append(stored.story_id)
    return ids


def test_a_page_reused_days_later_for_other_places_is_a_new_story(tmp_path: Path) -> None:
    first, later = story_ids(
        tmp_path,
        [
            ("harbour", "Weather warning for Oslo as freezing rain expected", PAGE, T0),
            ("meridian", "Weather warning for Bergen as storm nears", PAGE, T0 + timedelta(days=2)),
        ],
    )
    assert first != later


def test_an_update_within_the_day_at_the_same_link_is_the_same_story(tmp_path: Path) -> None:
    first, update, copy = story_ids(
        tmp_path,
        [
            ("meridian", "Earthquake of magnitude 6.1 strikes off Hokkaido, Japan -GFZ", QUAKE, T0),
            ("harbour", "UPDATE 2-Strong quake off northern Japan injures 14, halts bullet trains", QUAKE,
             T0 + timedelta(hours=5)),
            # The same page and the same names two days on: still the story (a follow-up on the page).
            ("pacific", "Hokkaido quake: bullet trains run again", QUAKE + "?utm_source=x", T0 + timedelta(days=2)),
        ],
    )  # fmt: skip
    assert first == update == copy
