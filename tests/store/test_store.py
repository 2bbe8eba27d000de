"""The store called directly, on a real SQLite file and on a real PostgreSQL database (`database`):
sources (subscribing, finding, pausing, moving, removing, holding a host back), what a poll records
of a source, items and their stories, pruning and tombstones, transactions, and the migration that
takes addresses out of stored authors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.exceptions import AlreadySubscribedError, NotFoundError, StorageError, UnstorableError
from aggregator.identity import content_hash
from aggregator.store import Store
from aggregator.types import Entry, FeedHints, FetchRecord, NewItem, Revision

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
URL = "https://wire.example/feed"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "offthewire.db"


@pytest.fixture
def store(database: Path | str) -> Iterator[Store]:
    store = Store(database)
    yield store
    store.close()


def new_item(key: str, title: str = "Harbour cranes idle", **fields: object) -> NewItem:
    values: dict[str, object] = {
        "key": key,
        "title": title,
        "link": f"https://wire.example/{key}",
        "canonical_link": f"https://wire.example/{key}",
        "summary": "",
        "content": "",
        "author": None,
        "published": NOW,
        "updated": NOW,
        "content_hash": f"hash-{key}",
        "topics": (),
        "story_key": f"story-{key}",
        **fields,
    }
    return NewItem(**values)  # type: ignore[arg-type]


def item_count(store: Store) -> int:
    return int(store.db.execute("SELECT COUNT(*) FROM items").fetchone()[0])


# Sources


def test_a_source_is_found_by_its_id_and_by_its_url(store: Store) -> None:
    added = store.add_source(URL, "Wire", ["energy"], 30, NOW, rights="summary")

    assert (added.url, added.name, added.topics, added.every_minutes, added.rights) == (
        URL,
        "Wire",
        ("energy",),
        30,
        "summary",
    )
    assert added.enabled and added.next_fetch_at is None and added.item_count == 0
    assert store.find_source(str(added.id), None) == added
    assert store.find_source(URL, None) == added
    assert store.find_source("https://Wire.example/feed", URL) == added, "found by its normalised URL"
    with pytest.raises(NotFoundError, match="offthewire list"):
        store.find_source("https://other.example/feed", None)
    with pytest.raises(NotFoundError, match="no source 999"):
        store.source(999)


def test_a_url_already_subscribed_is_refused(store: Store) -> None:
    added = store.add_source(URL, None, [], None, NOW)

    with pytest.raises(AlreadySubscribedError, match=f"already subscribed as source {added.id}"):
        store.add_source(URL, "again", [], None, NOW)
    assert [source.id for source in store.sources()] == [added.id]


def test_removing_a_source_deletes_its_items_and_their_stories(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)
    other = store.add_source("https://other.example/feed", None, [], None, NOW)
    store.insert_item(source.id, new_item("a"), NOW, None)
    _, story = store.insert_item(source.id, new_item("b"), NOW, None)
    store.insert_item(other.id, new_item("c"), NOW, story)  # joins a story of the removed source

    deleted = store.remove_source(source.id, keep_items=False, now=NOW)

    assert deleted == 2
    assert [s.id for s in store.sources()] == [other.id]
    assert not store.source_exists(source.id)
    with pytest.raises(NotFoundError):
        store.find_source(URL, None)
    [kept] = store.items()
    assert (kept.title, kept.story_id) == ("Harbour cranes idle", story), "the shared story stays with its report"
    assert store.db.execute("SELECT COUNT(*) FROM stories").fetchone()[0] == 1
    assert store.outputs_stale()


def test_removing_a_source_with_keep_items_keeps_them_and_adding_it_again_brings_it_back(store: Store) -> None:
    source = store.add_source(URL, "Wire", [], None, NOW)
    store.insert_item(source.id, new_item("a"), NOW, None)

    assert store.remove_source(source.id, keep_items=True, now=NOW) == 0

    assert store.sources() == []
    assert not store.source_exists(source.id)
    assert [item.source_id for item in store.items()] == [source.id]
    again = store.add_source(URL, "Wire again", [], None, NOW + timedelta(days=1))
    assert (again.id, again.name, again.item_count) == (source.id, "Wire again", 1)


def test_a_paused_source_is_not_due_and_a_resumed_one_is_due_at_once(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)
    store.record_fetch(source.id, FetchRecord(next_fetch_at=NOW + timedelta(hours=1)))

    store.set_enabled(source.id, False)
    paused = store.source(source.id)
    assert (paused.enabled, paused.next_reason) == (False, "paused")
    assert store.due_sources(NOW + timedelta(days=30)) == []

    store.set_enabled(source.id, True)
    resumed = store.source(source.id)
    assert (resumed.enabled, resumed.next_fetch_at, resumed.next_reason) == (True, None, None)
    assert [s.id for s in store.due_sources(NOW)] == [source.id]


def test_a_moved_source_keeps_its_old_url_as_an_alias(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)
    new_url = "https://new.example/feed"

    moved = store.move_source(source.id, new_url)

    assert (moved.id, moved.url) == (source.id, new_url)
    assert store.find_source(new_url, None).id == source.id
    with pytest.raises(AlreadySubscribedError, match="moved to a new URL"):
        store.add_source(URL, None, [], None, NOW)
    # Moving back to the old URL takes the alias off the URL polled now.
    store.move_source(source.id, URL)
    assert store.source(source.id).url == URL
    with pytest.raises(AlreadySubscribedError, match="moved to a new URL"):
        store.add_source(new_url, None, [], None, NOW)


def test_a_move_to_a_url_another_source_polls_leaves_both_alone(store: Store) -> None:
    first = store.add_source(URL, None, [], None, NOW)
    second = store.add_source("https://new.example/feed", None, [], None, NOW)

    assert store.move_source(first.id, second.url).url == URL
    assert store.source(second.id).url == second.url


def test_holding_a_host_delays_its_enabled_sources_only(store: Store) -> None:
    until = NOW + timedelta(hours=2)
    early = store.add_source("https://busy.example/a", None, [], None, NOW)
    later = store.add_source("https://BUSY.example/b", None, [], None, NOW)
    paused = store.add_source("https://busy.example/c", None, [], None, NOW)
    elsewhere = store.add_source("https://quiet.example/a", None, [], None, NOW)
    store.record_fetch(later.id, FetchRecord(next_fetch_at=until + timedelta(hours=1)))
    store.set_enabled(paused.id, False)

    assert store.hold_host("busy.example", until) == 1

    held = store.source(early.id)
    assert held.next_fetch_at == until
    assert held.next_reason == "busy.example answered 429 Too Many Requests; waiting for it"
    assert store.source(later.id).next_fetch_at == until + timedelta(hours=1), "a later poll is not brought forward"
    assert store.source(paused.id).next_fetch_at is None
    assert store.source(elsewhere.id).next_fetch_at is None


# What a poll records


def test_record_fetch_writes_only_the_fields_it_sets(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)
    hints = FeedHints(ttl_minutes=60, skip_hours=frozenset({1, 2}))
    store.record_fetch(
        source.id,
        FetchRecord(
            last_fetched_at=NOW,
            last_status=503,
            last_error="HTTP 503 Service Unavailable",
            error_count=1,
            etag='"v1"',
            last_modified="Fri, 20 Nov 2026 11:00:00 GMT",
            hints=hints,
            schedule_considered=("every 15 min",),
            feed_title="The Wire",
        ),
    )

    store.record_fetch(source.id, FetchRecord(last_status=304, last_error=None, error_count=0))

    after = store.source(source.id)
    assert (after.last_status, after.last_error, after.error_count) == (304, None, 0)
    assert after.etag == '"v1"', "a field left KEEP is left as it was"
    assert after.last_modified == "Fri, 20 Nov 2026 11:00:00 GMT"
    assert after.last_fetched_at == NOW
    assert after.hints == hints
    assert after.schedule_considered == ("every 15 min",)
    assert after.display_name == "The Wire"


def test_record_fetch_sets_a_field_to_none_when_told(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)
    store.record_fetch(source.id, FetchRecord(etag='"v1"', body_hash="abc"))

    store.record_fetch(source.id, FetchRecord(etag=None))

    after = store.source(source.id)
    assert (after.etag, after.body_hash) == (None, "abc")


def test_an_etag_that_is_not_utf8_is_kept_byte_for_byte(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)
    etag = b'"caf\xe9"'.decode("utf-8", "surrogateescape")

    store.record_fetch(source.id, FetchRecord(etag=etag))

    assert store.source(source.id).etag == etag
    assert store.db.execute("SELECT etag FROM sources").fetchone()[0] == b'"caf\xe9"'


def test_record_fetch_for_a_removed_source_writes_nothing(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)
    store.remove_source(source.id, keep_items=False, now=NOW)

    store.record_fetch(source.id, FetchRecord(last_error="late"))

    assert store.db.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == 0


# Items and stories


def test_an_inserted_item_is_stored_under_its_key_with_a_story_of_its_own(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)
    published = NOW - timedelta(hours=1)

    item_id, story_id = store.insert_item(source.id, new_item("a", published=published, topics=("energy",)), NOW, None)
    _, joined = store.insert_item(source.id, new_item("b", published=NOW), NOW, story_id)

    stored = store.stored_items(source.id, ["a", "b", "missing"])
    assert set(stored) == {"a", "b"}
    assert (stored["a"].id, stored["a"].story_id, stored["a"].content_hash) == (item_id, story_id, "hash-a")
    assert (stored["a"].updated, stored["a"].revisions, stored["a"].revisions_since) == (NOW, 0, None)
    assert joined == story_id
    [story] = store.latest_stories(None, 10)
    assert (story.id, story.published, story.updated) == (story_id, published, NOW)
    assert [report.title for report in story.reports] == ["Harbour cranes idle"] * 2
    assert store.items(topic="energy")[0].id == item_id
    assert store.stored_items(source.id + 1, ["a"]) == {}, "keys are per source"


def test_an_undated_item_is_dated_when_it_was_first_seen(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)

    item_id, _ = store.insert_item(source.id, new_item("a", published=None, updated=None), NOW, None)

    item = store.item(item_id)
    assert (item.published, item.updated) == (NOW, NOW)


def test_an_updated_item_is_revised_in_place_and_moves_its_story_when_told(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)
    item_id, story_id = store.insert_item(source.id, new_item("a", topics=("energy",)), NOW, None)
    [stored] = store.stored_items(source.id, ["a"]).values()
    later = NOW + timedelta(hours=2)
    revised = new_item("a", "Harbour cranes idle again", content_hash="hash-a2", topics=("sports",))

    store.update_item(stored, revised, Revision(later, 1, later, moves_story=False))
    assert store.latest_stories(None, 10)[0].updated == NOW, "a revision that does not move the story"

    [stored] = store.stored_items(source.id, ["a"]).values()
    even_later = later + timedelta(hours=1)
    store.update_item(stored, revised, Revision(even_later, 2, later, moves_story=True))

    [again] = store.stored_items(source.id, ["a"]).values()
    assert (again.id, again.content_hash, again.revisions, again.revisions_since) == (item_id, "hash-a2", 2, later)
    assert again.updated == even_later
    item = store.item(item_id)
    assert (item.title, item.topics) == ("Harbour cranes idle again", ("sports",))
    [story] = store.latest_stories(None, 10)
    assert (story.id, story.updated) == (story_id, even_later)
    assert item_count(store) == 1


def test_the_window_reports_are_the_items_published_since_a_time_after_an_id(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)
    old_id, _ = store.insert_item(source.id, new_item("old", published=NOW - timedelta(days=5)), NOW, None)
    first_id, story_id = store.insert_item(source.id, new_item("a"), NOW, None)
    second_id, _ = store.insert_item(source.id, new_item("b", title="Oil prices climb"), NOW, story_id)

    reports = store.window_reports(NOW - timedelta(days=1))

    assert [(r.item_id, r.key, r.story_id, r.title) for r in reports] == [
        (first_id, "a", story_id, "Harbour cranes idle"),
        (second_id, "b", story_id, "Oil prices climb"),
    ]
    assert [r.item_id for r in store.window_reports(NOW - timedelta(days=1), after_id=first_id)] == [second_id]
    assert [r.item_id for r in store.window_reports(NOW - timedelta(days=6), until=NOW)] == [old_id]
    assert [r.item_id for r in store.window_reports(NOW - timedelta(days=6), after_id=old_id)] == [first_id, second_id]
    assert store.item_ids_after(old_id) == [first_id, second_id]
    assert store.item_ids_after(second_id) == []


def test_an_item_told_to_join_a_story_gone_meanwhile_starts_one(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)
    _, gone = store.insert_item(source.id, new_item("a"), NOW, None)
    store.db.execute("DELETE FROM items")
    store.db.execute("DELETE FROM stories")

    _, story_id = store.insert_item(source.id, new_item("b"), NOW, gone)

    assert store.db.execute("SELECT id FROM stories").fetchall() == [(story_id,)]


def test_prune_deletes_old_items_beyond_each_sources_newest_and_leaves_tombstones(store: Store) -> None:
    source = store.add_source(URL, None, [], None, NOW)
    other = store.add_source("https://other.example/feed", None, [], None, NOW)
    for n in range(4):  # a0 is the oldest
        store.insert_item(source.id, new_item(f"a{n}", published=NOW - timedelta(days=40 - n)), NOW, None)
    store.insert_item(other.id, new_item("old", published=NOW - timedelta(days=40)), NOW, None)
    store.insert_item(source.id, new_item("fresh", published=NOW - timedelta(days=1)), NOW, None)
    store.outputs_published()

    pruned = store.prune(NOW - timedelta(days=30), keep_per_source=2, now=NOW)

    assert pruned == 3
    assert set(store.stored_items(source.id, ["a0", "a1", "a2", "a3", "fresh"])) == {"a3", "fresh"}
    assert store.pruned_keys(source.id, ["a0", "a1", "a2", "a3", "fresh"]) == {"a0", "a1", "a2"}
    assert store.pruned_keys(other.id, ["old", "a0"]) == set(), "the other source keeps its only item"
    assert set(store.stored_items(other.id, ["old"])) == {"old"}
    assert store.db.execute("SELECT COUNT(*) FROM stories").fetchone()[0] == 3
    assert store.outputs_stale()
    assert store.prune(NOW - timedelta(days=30), keep_per_source=2, now=NOW) == 0


# Transactions


def test_a_transaction_is_rolled_back_when_its_body_raises(store: Store) -> None:
    class Planted(Exception):
        pass

    with pytest.raises(Planted), store.transaction():
        store.db.execute("INSERT INTO meta (key, value) VALUES ('planted', '1')")
        raise Planted

    assert store.optional_meta("planted") is None
    assert not store.db.in_transaction
    store.set_meta("after", "1")  # the connection is usable again
    assert store.optional_meta("after") == "1"


def test_a_refused_value_is_unstorable_and_undoes_the_transaction(store: Store) -> None:
    with pytest.raises(UnstorableError, match="refused a value"), store.transaction():
        store.db.execute("INSERT INTO meta (key, value) VALUES ('first', '1')")
        store.db.execute("INSERT INTO meta (key, value) VALUES ('second', NULL)")

    assert store.optional_meta("first") is None
    assert not store.db.in_transaction


def test_a_database_error_is_a_storage_error_not_an_unstorable_one(store: Store) -> None:
    with pytest.raises(StorageError, match="could not be written") as raised, store.transaction():
        store.db.execute("INSERT INTO meta (key, value) VALUES ('first', '1')")
        store.db.execute("INSERT INTO no_such_table VALUES (1)")

    assert not isinstance(raised.value, UnstorableError)
    assert store.optional_meta("first") is None


def test_an_inner_transaction_is_a_savepoint(store: Store) -> None:
    with store.transaction():
        store.db.execute("INSERT INTO meta (key, value) VALUES ('outer', '1')")
        with pytest.raises(UnstorableError), store.transaction():
            store.db.execute("INSERT INTO meta (key, value) VALUES ('inner', '1')")
            store.db.execute("INSERT INTO meta (key, value) VALUES ('inner2', NULL)")

    assert store.optional_meta("outer") == "1"
    assert store.optional_meta("inner") is None


# Migrations


def test_m016_takes_addresses_out_of_stored_authors_and_makes_their_hash_again(path: Path) -> None:
    store = Store(path)
    source = store.add_source(URL, None, [], None, NOW)
    with store.transaction():
        with_address, _ = store.insert_item(
            source.id,
            new_item("a", "Cranes idle", summary="<p>Dockers strike.</p>", author="Jane Doe (jane@example.com)"),
            NOW,
            None,
        )
        plain, _ = store.insert_item(source.id, new_item("b", author="John Roe", content_hash="untouched"), NOW, None)
    store.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm016_authors_without_addresses'")
    store.db.conn.commit()
    store.close()

    reopened = Store(path)
    try:
        rows = dict(
            (row[0], row[1:]) for row in reopened.db.execute("SELECT id, author, content_hash FROM items").fetchall()
        )
        applied = reopened.db.execute(
            "SELECT COUNT(*) FROM _sqlite_migrations WHERE name = 'm016_authors_without_addresses'"
        ).fetchone()[0]
    finally:
        reopened.close()

    cleaned = Entry(
        guid=None,
        title="Cranes idle",
        link="https://wire.example/a",
        summary="<p>Dockers strike.</p>",
        content="",
        author="Jane Doe",
    )
    assert rows[with_address] == ("Jane Doe", content_hash(cleaned))
    assert rows[plain] == ("John Roe", "untouched")
    assert applied == 1


def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "not-a.db"
    path.write_bytes(b"this is not SQLite" * 100)

    with pytest.raises(StorageError, match="cannot be opened"):
        Store(path)


def test_check_notices_a_deleted_database(path: Path) -> None:
    store = Store(path)
    store.check()
    path.unlink()

    with pytest.raises(StorageError, match="was deleted"):
        store.check()
    store.close()


def test_database_errors_do_not_leak_from_reading(store: Store) -> None:
    store.db.execute("DROP TABLE items_search")

    with pytest.raises(StorageError, match="could not be searched"):
        store.search("cranes")
