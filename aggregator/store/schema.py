"""The schema's history: every migration, applied in order when a database opens (sqlite-utils'
Migrations), and the form times are stored in: ISO 8601 UTC text ("2026-11-28T16:32:31Z"), which
sorts as time does. A migration depends on no story rule of the day: what story matching derives
from the items (its keys) lives in memory and is made again by today's code when a process starts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlite_utils
from sqlite_utils import Migrations

from aggregator.text import search_text


def to_text(moment: datetime) -> str:
    # isoformat and fromisoformat, not strftime and strptime: several times faster, the same text.
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def from_text(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text).astimezone(UTC)


migrations = Migrations("offthewire")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        """CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            name TEXT,
            topics TEXT NOT NULL DEFAULT '[]',
            every_minutes INTEGER,
            enabled INTEGER NOT NULL DEFAULT 1,
            removed_at TEXT,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            last_fetched_at TEXT,
            last_status INTEGER,
            last_error TEXT,
            last_warning TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            next_fetch_at TEXT,
            feed_title TEXT,
            feed_link TEXT,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            fingerprint TEXT,
            published TEXT NOT NULL,
            updated TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL,
            key TEXT NOT NULL,
            story_id INTEGER NOT NULL,
            title TEXT NOT NULL,
            link TEXT,
            canonical_link TEXT,
            summary TEXT NOT NULL DEFAULT '',
            content TEXT NOT NULL DEFAULT '',
            author TEXT,
            published TEXT NOT NULL,
            updated TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            UNIQUE (source_id, key)
        )"""
    )
    db.execute("CREATE TABLE item_topics (item_id INTEGER NOT NULL, topic TEXT NOT NULL, PRIMARY KEY (item_id, topic))")
    db.execute("CREATE INDEX items_canonical_link ON items (canonical_link, published)")
    db.execute("CREATE INDEX items_story ON items (story_id, published)")
    db.execute("CREATE INDEX items_published ON items (published)")
    db.execute("CREATE INDEX item_topics_topic ON item_topics (topic, item_id)")
    db.execute("CREATE INDEX stories_fingerprint ON stories (fingerprint, published)")
    db.execute("CREATE INDEX stories_published ON stories (published)")
    db.execute("CREATE INDEX sources_due ON sources (next_fetch_at)")
    db.table("meta").insert_all(
        [
            {"key": "install_id", "value": str(uuid.uuid4())},
            {"key": "created_at", "value": to_text(datetime.now(UTC))},
        ]
    )


@migrations()
def m002_schedule(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE sources ADD COLUMN hints TEXT")
    db.execute("ALTER TABLE sources ADD COLUMN next_reason TEXT")
    db.execute("ALTER TABLE sources ADD COLUMN schedule_considered TEXT")
    db.execute("CREATE TABLE source_aliases (url TEXT PRIMARY KEY, source_id INTEGER NOT NULL)")


@migrations()
def m003_story_keys(db: sqlite_utils.Database) -> None:
    # MinHash LSH band keys of every report's headline: candidate stories by index, not by scan.
    db.execute("CREATE TABLE story_keys (key TEXT NOT NULL, story_id INTEGER NOT NULL, published TEXT NOT NULL)")
    db.execute("CREATE INDEX story_keys_key ON story_keys (key, published)")
    db.execute("CREATE INDEX story_keys_story ON story_keys (story_id)")


@migrations()
def m004_feed_identity(db: sqlite_utils.Database) -> None:
    # What a full atom:source needs of the original feed.
    db.execute("ALTER TABLE sources ADD COLUMN feed_id TEXT")
    db.execute("ALTER TABLE sources ADD COLUMN feed_updated TEXT")
    db.execute("ALTER TABLE sources ADD COLUMN feed_rights TEXT")


@migrations()
def m005_item_facts_and_revisions(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE items ADD COLUMN categories TEXT NOT NULL DEFAULT '[]'")
    db.execute("ALTER TABLE items ADD COLUMN language TEXT")
    db.execute("ALTER TABLE items ADD COLUMN revisions INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE items ADD COLUMN revisions_since TEXT")


@migrations()
def m006_no_exact_fingerprints(db: sqlite_utils.Database) -> None:
    # Stories are matched through story_keys now; the exact-headline column is gone.
    db.execute("DROP INDEX IF EXISTS stories_fingerprint")
    db.execute("ALTER TABLE stories DROP COLUMN fingerprint")


@migrations()
def m007_source_ids_never_reused(db: sqlite_utils.Database) -> None:
    # SQLite hands a deleted row's id to the next insert; a source id must never come back, or a
    # poll still in flight for a removed source would store its items under the next new one.
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'sources'").fetchone()[0]
    create = sql.replace("CREATE TABLE sources", "CREATE TABLE sources_new", 1).replace(
        "id INTEGER PRIMARY KEY", "id INTEGER PRIMARY KEY AUTOINCREMENT", 1
    )
    db.execute(create)
    db.execute("INSERT INTO sources_new SELECT * FROM sources")
    db.execute("DROP TABLE sources")
    db.execute("ALTER TABLE sources_new RENAME TO sources")
    db.execute("CREATE INDEX sources_due ON sources (next_fetch_at)")


@migrations()
def m008_tombstones(db: sqlite_utils.Database) -> None:
    # What is left of a pruned item: its identity, so an upstream feed still carrying it does not
    # bring it back.
    db.execute(
        "CREATE TABLE tombstones (source_id INTEGER NOT NULL, key TEXT NOT NULL, pruned_at TEXT NOT NULL, "
        "PRIMARY KEY (source_id, key))"
    )


@migrations()
def m009_search(db: sqlite_utils.Database) -> None:
    # Full-text search over headlines and summaries (FTS5, rowid = item id). Rows are written with
    # the item and deleted by trigger, so any tool that deletes items keeps it right.
    db.execute(
        "CREATE VIRTUAL TABLE items_search USING fts5(title, summary, tokenize = 'unicode61 remove_diacritics 2')"
    )
    db.execute(
        "CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN "
        "DELETE FROM items_search WHERE rowid = old.id; END"
    )
    rows = db.execute("SELECT id, title, summary FROM items").fetchall()
    db.conn.executemany(
        "INSERT INTO items_search (rowid, title, summary) VALUES (?, ?, ?)",
        [(item_id, title, search_text(summary)) for item_id, title, summary in rows],
    )


@migrations()
def m010_rights_modes(db: sqlite_utils.Database) -> None:
    # How much of a source's text is republished: full, summary or title (see RIGHTS_MODES).
    db.execute("ALTER TABLE sources ADD COLUMN rights TEXT NOT NULL DEFAULT 'full'")


@migrations()
def m011_archive_pages(db: sqlite_utils.Database) -> None:
    # RFC 5005 archive documents: page N of a feed holds its stories with ids after page N-1's
    # last_story_id up to its own; a page is closed once full and its file never changes again.
    db.execute(
        "CREATE TABLE archive_pages (feed TEXT NOT NULL, page INTEGER NOT NULL, last_story_id INTEGER NOT NULL, "
        "closed_at TEXT NOT NULL, PRIMARY KEY (feed, page))"
    )


@migrations()
def m012_story_topics(db: sqlite_utils.Database) -> None:
    # Which topics each story is in, with the story's time: a topic feed reads the newest stories
    # of its topic from an index instead of collecting every item the topic ever had. Triggers
    # keep it in step with item_topics and stories, whoever writes them.
    db.execute(
        "CREATE TABLE story_topics (story_id INTEGER NOT NULL, topic TEXT NOT NULL, published TEXT NOT NULL, "
        "PRIMARY KEY (story_id, topic))"
    )
    db.execute("CREATE INDEX story_topics_newest ON story_topics (topic, published, story_id)")
    db.execute("CREATE INDEX story_topics_order ON story_topics (topic, story_id)")
    db.execute(
        """CREATE TRIGGER story_topics_add AFTER INSERT ON item_topics BEGIN
               INSERT OR IGNORE INTO story_topics (story_id, topic, published)
               SELECT s.id, NEW.topic, s.published FROM items i JOIN stories s ON s.id = i.story_id
               WHERE i.id = NEW.item_id;
           END"""
    )
    db.execute(
        """CREATE TRIGGER story_topics_drop AFTER DELETE ON item_topics BEGIN
               DELETE FROM story_topics
               WHERE topic = OLD.topic AND story_id = (SELECT story_id FROM items WHERE id = OLD.item_id)
                 AND NOT EXISTS (SELECT 1 FROM item_topics t JOIN items i ON i.id = t.item_id
                                 WHERE t.topic = OLD.topic
                                   AND i.story_id = (SELECT story_id FROM items WHERE id = OLD.item_id));
           END"""
    )
    db.execute(
        """CREATE TRIGGER story_topics_redate AFTER UPDATE OF published ON stories BEGIN
               UPDATE story_topics SET published = NEW.published WHERE story_id = NEW.id;
           END"""
    )
    db.execute(
        "CREATE TRIGGER story_topics_gone AFTER DELETE ON stories BEGIN "
        "DELETE FROM story_topics WHERE story_id = OLD.id; END"
    )
    db.execute(
        """INSERT OR IGNORE INTO story_topics (story_id, topic, published)
           SELECT s.id, t.topic, s.published FROM item_topics t JOIN items i ON i.id = t.item_id
           JOIN stories s ON s.id = i.story_id"""
    )


@migrations()
def m013_story_keys_rebuilt(db: sqlite_utils.Database) -> None:
    # Rebuilt the keys of recent items when headlines came to be normalised differently; m014
    # marks them to be made again, so a database upgraded past both does the work once.
    pass


@migrations()
def m014_integer_story_keys(db: sqlite_utils.Database) -> None:
    # Keys are 64-bit integers in a table clustered on (key, published): one b-tree instead of a
    # table and its index, a third of the bytes. Only keys of recent items are of any use.
    db.execute("DROP TABLE story_keys")
    db.execute(
        "CREATE TABLE story_keys (key INTEGER NOT NULL, published TEXT NOT NULL, story_id INTEGER NOT NULL, "
        "PRIMARY KEY (key, published, story_id)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX story_keys_story ON story_keys (story_id)")
    # The keys are made from headlines by the story rules of the day; which rules those are is not
    # the schema's business: the pipeline makes them again for recent items when it sees this mark.
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('story_keys_stale', '1')")


@migrations()
def m015_match_words(db: sqlite_utils.Database) -> None:
    # Each item's matching words, so that a candidate report sharing too few of them is ruled out
    # without preparing its headline. Items stored before have none and are prepared as they were.
    db.execute("ALTER TABLE items ADD COLUMN match_words TEXT")


@migrations()
def m016_authors_without_addresses(db: sqlite_utils.Database) -> None:
    # Authors were stored with their e-mail addresses; a republisher keeps names only. Their
    # content hash is made again too, so the next poll does not take them for revisions.
    from aggregator.identity import content_hash
    from aggregator.text import author_name
    from aggregator.types import Entry

    rows = db.execute("SELECT id, title, link, summary, content, author FROM items WHERE author LIKE '%@%'").fetchall()
    changed = []
    for item_id, title, link, summary, content, author in rows:
        name = author_name(author)
        if name != author:
            entry = Entry(guid=None, title=title, link=link, summary=summary, content=content, author=name)
            changed.append((name, content_hash(entry), item_id))
    db.conn.executemany("UPDATE items SET author = ?, content_hash = ? WHERE id = ?", changed)


@migrations()
def m017_story_index_in_memory(db: sqlite_utils.Database) -> None:
    # Story matching keeps its keys and prepared headlines in memory (stories/index.py), built from
    # the items of the window: the key table (a fifth of the file's bytes) and the words column go.
    db.execute("DROP TABLE IF EXISTS story_keys")
    db.execute("ALTER TABLE items DROP COLUMN match_words")
    db.execute("DELETE FROM meta WHERE key = 'story_keys_stale'")
