"""The only SQL: sources, items, stories and topics in SQLite through sqlite-utils.

The schema is created and upgraded by `sqlite_utils.Migrations` when the database opens. WAL mode
and a busy timeout let the CLI write while the daemon writes; each poll of a source is one
transaction. Methods are named for what the caller wants and return `types`, never rows.
Times are stored as ISO 8601 UTC text ("2026-11-28T16:32:31Z"), which sorts as time does.
"""

from __future__ import annotations

import functools
import html
import json
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils import Migrations

from aggregator.exceptions import AlreadySubscribedError, NotFoundError, StorageError, UnstorableError
from aggregator.identity import host_of
from aggregator.stories import DEVELOPING_HOURS, Headline, headline, lsh_keys
from aggregator.stories.rules import (
    CANDIDATE_REPORTS_NEWEST,
    CANDIDATE_REPORTS_OLDEST,
    KEY_POSTINGS,
    MAX_CANDIDATE_STORIES,
    RARE_NAME_POSTINGS,
    RARE_NAME_STORIES,
)
from aggregator.types import FeedHints, Item, ItemFacts, Source, Story

BUSY_TIMEOUT_MS = 10_000
BATCH_SECONDS = 0.5  # longest a poll keeps its write transaction open (see Store.batch)
# Errors about the values written, not about the database: they are the writing source's problem.
_REFUSED_VALUES = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, sqlite3.ProgrammingError)
_HEALTH_FIELDS = frozenset(
    {
        "etag", "last_modified", "body_hash", "last_fetched_at", "last_status", "last_error", "last_warning",
        "error_count", "next_fetch_at", "feed_title", "feed_link", "hints", "next_reason", "schedule_considered",
        "enabled", "feed_id", "feed_updated", "feed_rights",
    }
)  # fmt: skip

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
    # the item (search_row) and deleted by trigger, so any tool that deletes items keeps it right.
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


REKEY_DAYS = 14  # story keys rebuilt by a migration: wider than any sensible [dedupe] window_hours


def _rebuild_story_keys(db: sqlite_utils.Database) -> None:
    """Recent items' story keys made again from their headlines, as `lsh_keys` makes them today."""
    cutoff = to_text(datetime.now(UTC) - timedelta(days=REKEY_DAYS))
    rows = db.execute("SELECT story_id, title, published FROM items WHERE published >= ?", [cutoff]).fetchall()
    db.execute("DELETE FROM story_keys WHERE published >= ?", [cutoff])
    db.conn.executemany(
        "INSERT OR IGNORE INTO story_keys (key, story_id, published) VALUES (?, ?, ?)",
        [(key, story_id, published) for story_id, title, published in rows for key in lsh_keys(headline(title))],
    )


@migrations()
def m013_story_keys_rebuilt(db: sqlite_utils.Database) -> None:
    # Rebuilt the keys of recent items when headlines came to be normalised differently; m014
    # rebuilds them again, so a database upgraded past both does the work once.
    pass


@migrations()
def m014_integer_story_keys(db: sqlite_utils.Database) -> None:
    # Keys are 64-bit integers in a table clustered on (key, published): one b-tree instead of a
    # table and its index, a third of the bytes. Only keys of recent items are of any use: those
    # are made again from their headlines (normalised as today: figures, stems, name pairs).
    db.execute("DROP TABLE story_keys")
    db.execute(
        "CREATE TABLE story_keys (key INTEGER NOT NULL, published TEXT NOT NULL, story_id INTEGER NOT NULL, "
        "PRIMARY KEY (key, published, story_id)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX story_keys_story ON story_keys (story_id)")
    _rebuild_story_keys(db)


@migrations()
def m015_match_words(db: sqlite_utils.Database) -> None:
    # Each item's matching words, so that a candidate report sharing too few of them is ruled out
    # without preparing its headline. Items stored before have none and are prepared as they were.
    db.execute("ALTER TABLE items ADD COLUMN match_words TEXT")


_TAG = re.compile(r"<[^>]*>")


def search_text(summary_html: str) -> str:
    """The words of a (sanitised) summary for the search index: tags out, entities decoded."""
    return html.unescape(_TAG.sub(" ", summary_html))


@dataclass(frozen=True)
class NewItem:
    """An item ready to store: the entry's fields plus its identity, topics and story match data."""

    key: str
    title: str
    link: str | None
    canonical_link: str | None
    summary: str
    content: str
    author: str | None
    published: datetime | None
    updated: datetime | None
    content_hash: str
    topics: tuple[str, ...]
    story_key: str
    match_keys: tuple[int, ...] = ()
    name_keys: tuple[tuple[str, int], ...] = ()  # (name, key), looked up within DEVELOPING_HOURS (stories.name_keys)
    common_names: frozenset[str] = frozenset()  # of its names, those many stories carry (set when matched)
    categories: tuple[str, ...] = ()
    language: str | None = None
    match: Headline | None = None  # the headline prepared for story matching, when already made
    match_words: str = ""  # its words, stored for ruling the item out as a candidate cheaply (stories.match_words)


@dataclass(frozen=True)
class StoredReport:
    """A report already stored, offered to the story matcher as a candidate."""

    story_id: int
    title: str
    summary: str
    published: datetime | None = None
    words: str | None = None  # stories.match_words of the report, when stored with it
    shares_rare_name: bool = False  # its story and the new item share a rare name (Store.name_stories)


StoryChooser = Callable[[NewItem, Sequence[StoredReport]], int | None]
# (new item, the reports of the story sharing its link) -> do they tell different events anyway?
LinkVeto = Callable[[NewItem, Sequence[StoredReport]], bool]
# (republish_updates, revisions in the last day, max_revisions) -> does the story's `updated` move?
RevisionRule = Callable[[int], bool]
WAL_CHECKPOINT_PAGES = 10_000  # write-ahead log pages (4 KB) between automatic checkpoints
KEYS_PER_QUERY = 500  # item keys looked up in one statement (SQLite allows 32,766 parameters)


@dataclass(frozen=True)
class SaveCounts:
    """What saving one poll's items did: new items, changed items, new items that joined a known story."""

    new: int
    updated: int
    merged: int


def to_text(moment: datetime) -> str:
    # isoformat and fromisoformat, not strftime and strptime: several times faster, the same text.
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def from_text(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text).astimezone(UTC)


class Store:
    """The database of one offthewire installation."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if path.parent and not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
            # One connection per Store; the daemon hands it from thread to thread but never uses it from two at once.
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.enable_wal()
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a crash of the process
            # loses nothing committed, a power cut at most the last commits (SQLite's advice for WAL).
            self.db.execute("PRAGMA synchronous = NORMAL")
            # Checkpoints every 40 MB of log instead of SQLite's 4 MB: a cold poll of 300 feeds
            # spent 28 s storing its items instead of 31 (fewer syncs, fewer pages copied twice).
            self.db.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            migrations.apply(self.db)
            self._inode = path.stat().st_ino
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"The database {path} cannot be opened: {exc}.") from exc

    def check(self) -> None:
        """Raise StorageError when the database file was deleted or replaced under us, or does not
        answer: an open connection would go on writing to a file nobody can see."""
        try:
            inode = self.path.stat().st_ino
        except OSError:
            raise StorageError(
                f"The database {self.path} was deleted; restart offthewire to create a new one."
            ) from None
        if inode != self._inode:
            raise StorageError(f"The database {self.path} was replaced; restart offthewire to use the new file.")
        try:
            self.db.execute("SELECT 1 FROM meta LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            raise StorageError(f"The database {self.path} does not answer: {exc}.") from exc

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; BEGIN IMMEDIATE takes the write lock up front, so a concurrent
        writer waits for the busy timeout instead of failing half-way through."""
        conn = self.db.conn
        try:
            if conn.in_transaction:
                with self.db.atomic():
                    yield
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except _REFUSED_VALUES as exc:
            raise UnstorableError(f"The database {self.path} refused a value: {exc}.") from exc
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StorageError(f"The database {self.path} could not be written: {exc}.") from exc

    @contextmanager
    def batch(self, max_seconds: float = BATCH_SECONDS) -> Iterator[Callable[[], None]]:
        """Many write transactions as few: inside, each `transaction()` is a savepoint (a failure
        still undoes only its own writes), and the `checkpoint()` this yields commits once the batch
        has been open `max_seconds`, so other writers never wait longer than that. Committing a few
        sources' items together writes shared index pages once instead of once per source."""
        conn = self.db.conn
        opened = time.monotonic()

        def checkpoint() -> None:
            nonlocal opened
            if conn.in_transaction and time.monotonic() - opened >= max_seconds:
                self._commit(conn)
                conn.execute("BEGIN IMMEDIATE")
                opened = time.monotonic()

        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageError(f"The database {self.path} could not be written: {exc}.") from exc
        try:
            yield checkpoint
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if conn.in_transaction:
            self._commit(conn)

    def _commit(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StorageError(f"The database {self.path} could not be written: {exc}.") from exc

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def optional_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def _mark_outputs_stale(self) -> None:
        # The daemon publishes after a tick that changed items; a change made elsewhere (the CLI)
        # leaves this mark so the next tick publishes too.
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('outputs_stale', '1')")

    def outputs_stale(self) -> bool:
        return self.optional_meta("outputs_stale") is not None

    def outputs_published(self) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM meta WHERE key = 'outputs_stale'")

    def meta(self, key: str) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        if row is None:
            raise StorageError(f"The database {self.path} has no {key!r}; it was not made by offthewire.")
        return str(row[0])

    # Sources

    def add_source(
        self,
        url: str,
        name: str | None,
        topics: Sequence[str],
        every_minutes: int | None,
        now: datetime,
        rights: str = "full",
    ) -> Source:
        """Subscribe; a source removed earlier with --keep-items is brought back."""
        existing = self.db.execute("SELECT id, removed_at FROM sources WHERE url = ?", [url]).fetchone()
        if existing and existing[1] is None:
            raise AlreadySubscribedError(f"{url} is already subscribed as source {existing[0]}.")
        alias = self.db.execute(
            "SELECT a.source_id FROM source_aliases a JOIN sources s ON s.id = a.source_id "
            "WHERE a.url = ? AND s.removed_at IS NULL",
            [url],
        ).fetchone()
        if alias:
            raise AlreadySubscribedError(f"{url} is already subscribed as source {alias[0]} (it moved to a new URL).")
        fields = {
            "name": name,
            "topics": json.dumps(list(topics)),
            "every_minutes": every_minutes,
            "rights": rights,
            "enabled": 1,
            "removed_at": None,
            "next_fetch_at": None,
        }
        with self.transaction():
            if existing:
                self.db.table("sources").update(existing[0], fields)
                source_id = existing[0]
            else:
                table = self.db.table("sources")
                table.insert({"url": url, "created_at": to_text(now), **fields})
                source_id = table.last_pk
        return self.source(source_id)

    def source(self, source_id: int) -> Source:
        rows = self._sources("s.id = ?", [source_id])
        if not rows:
            raise NotFoundError(f"There is no source {source_id}.")
        return rows[0]

    def find_source(self, url_or_id: str, normalised_url: str | None) -> Source:
        """A subscribed source by its id or URL; NotFoundError names what was asked for."""
        if url_or_id.strip().isdigit():
            rows = self._sources("s.id = ? AND s.removed_at IS NULL", [int(url_or_id)])
        else:
            rows = self._sources("s.url IN (?, ?) AND s.removed_at IS NULL", [url_or_id.strip(), normalised_url or ""])
        if not rows:
            raise NotFoundError(f"No source matches {url_or_id!r}; `offthewire list` shows the sources.")
        return rows[0]

    def sources(self, counted: bool = True) -> list[Source]:
        """Subscribed sources; with `counted`, each with its number of stored items."""
        return self._sources("s.removed_at IS NULL", [], counted)

    def due_sources(self, now: datetime) -> list[Source]:
        """The enabled sources whose next poll is due (without their item counts, which a poll
        does not need)."""
        return self._sources(
            "s.removed_at IS NULL AND s.enabled = 1 AND (s.next_fetch_at IS NULL OR s.next_fetch_at <= ?)",
            [to_text(now)],
            counted=False,
        )

    def remove_source(self, source_id: int, keep_items: bool, now: datetime) -> int:
        """Unsubscribe. Returns how many items were deleted (none with keep_items)."""
        with self.transaction():
            if keep_items:
                self.db.execute("UPDATE sources SET removed_at = ? WHERE id = ?", [to_text(now), source_id])
                self._mark_outputs_stale()
                return 0
            deleted = self.db.execute("SELECT COUNT(*) FROM items WHERE source_id = ?", [source_id]).fetchone()[0]
            self.db.execute(
                "DELETE FROM item_topics WHERE item_id IN (SELECT id FROM items WHERE source_id = ?)", [source_id]
            )
            touched = [
                row[0]
                for row in self.db.execute(
                    "SELECT DISTINCT story_id FROM items WHERE source_id = ?", [source_id]
                ).fetchall()
            ]
            self.db.execute("DELETE FROM items WHERE source_id = ?", [source_id])
            self.db.execute("DELETE FROM stories WHERE id NOT IN (SELECT DISTINCT story_id FROM items)")
            self._redate_stories(touched)
            self.db.execute("DELETE FROM story_keys WHERE story_id NOT IN (SELECT id FROM stories)")
            self.db.execute("DELETE FROM sources WHERE id = ?", [source_id])
            self._mark_outputs_stale()
            return int(deleted)

    def set_rights(self, source_id: int, mode: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE sources SET rights = ? WHERE id = ?", [mode, source_id])
            self._mark_outputs_stale()

    def set_enabled(self, source_id: int, enabled: bool) -> None:
        with self.transaction():
            reason = None if enabled else "paused"
            self.db.execute(
                "UPDATE sources SET enabled = ?, next_fetch_at = NULL, next_reason = ? WHERE id = ?",
                [int(enabled), reason, source_id],
            )

    def move_source(self, source_id: int, new_url: str) -> Source:
        """The feed moved for good: poll the new URL, keep the old one as an alias."""
        old = self.source(source_id).url
        with self.transaction():
            taken = self.db.execute("SELECT id FROM sources WHERE url = ? AND id != ?", [new_url, source_id]).fetchone()
            if taken:
                return self.source(source_id)  # another source already polls the new URL; leave both alone
            self.db.execute("INSERT OR REPLACE INTO source_aliases (url, source_id) VALUES (?, ?)", [old, source_id])
            self.db.execute("DELETE FROM source_aliases WHERE url = ?", [new_url])
            self.db.execute("UPDATE sources SET url = ? WHERE id = ?", [new_url, source_id])
        return self.source(source_id)

    def hold_host(self, host: str, until: datetime) -> int:
        """Push every enabled source on `host` to `until` at the earliest; returns how many moved."""
        moved = 0
        with self.transaction():
            rows = self.db.execute(
                "SELECT id, url, next_fetch_at FROM sources WHERE enabled = 1 AND removed_at IS NULL"
            ).fetchall()
            for source_id, url, next_at in rows:
                if host_of(url) == host and (next_at is None or next_at < to_text(until)):
                    self.db.execute(
                        "UPDATE sources SET next_fetch_at = ?, next_reason = ? WHERE id = ?",
                        [to_text(until), f"{host} answered 429 Too Many Requests; waiting for it", source_id],
                    )
                    moved += 1
        return moved

    def recent_published(self, source_id: int, limit: int = 30) -> list[datetime]:
        """Publication times of the source's newest items, for its publishing rate."""
        rows = self.db.execute(
            "SELECT published FROM items WHERE source_id = ? ORDER BY published DESC LIMIT ?", [source_id, limit]
        ).fetchall()
        return [moment for (text,) in rows if (moment := from_text(text))]

    def record_fetch(self, source_id: int, **fields: Any) -> None:
        """Store what a poll learnt about a source: status, error, validators, schedule, feed title."""
        unknown = set(fields) - _HEALTH_FIELDS
        assert not unknown, f"not source health fields: {unknown}"
        if isinstance(fields.get("hints"), FeedHints):
            fields["hints"] = _hints_json(fields["hints"])
        if isinstance(fields.get("schedule_considered"), tuple | list):
            fields["schedule_considered"] = json.dumps(list(fields["schedule_considered"]))
        for validator in ("etag", "last_modified"):
            # Header values may hold bytes that are not UTF-8 (obs-text); keep them byte for byte.
            if isinstance(fields.get(validator), str):
                fields[validator] = fields[validator].encode("utf-8", "surrogateescape")
        values = {k: to_text(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        assignments = ", ".join(f"{column} = ?" for column in values)
        # A source removed while it was being polled is simply not updated.
        sql, params = f"UPDATE sources SET {assignments} WHERE id = ?", [*values.values(), source_id]
        if not self.db.conn.in_transaction:
            with self.transaction():
                self.db.conn.execute(sql, params)
            return
        # In a batch, one statement needs no savepoint of its own: it is applied whole or not at
        # all (with the unchanged hints left alone, storing 2,000 304s went from 150 to 90 us each).
        try:
            self.db.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StorageError(f"The database {self.path} could not be written: {exc}.") from exc

    def source_exists(self, source_id: int) -> bool:
        row = self.db.execute("SELECT 1 FROM sources WHERE id = ? AND removed_at IS NULL", [source_id]).fetchone()
        return row is not None

    def _sources(self, where: str, params: list[Any], counted: bool = True) -> list[Source]:
        # A poll needs no item counts: each is a count over the items of one source.
        count = "(SELECT COUNT(*) FROM items i WHERE i.source_id = s.id)" if counted else "0"
        sql = f"SELECT s.*, {count} AS item_count FROM sources s WHERE {where} ORDER BY s.id"
        cursor = self.db.conn.cursor()
        cursor.row_factory = sqlite3.Row  # rows by column name, made in C: a poll loads 2,000 sources
        try:
            return [_source(row) for row in cursor.execute(sql, params).fetchall()]
        except sqlite3.Error as exc:
            raise StorageError(f"The database {self.path} could not be read: {exc}.") from exc

    # Items and stories

    def save_items(
        self,
        source: Source,
        new_items: Iterable[NewItem],
        now: datetime,
        window: timedelta,
        choose_story: StoryChooser | None = None,
        revision_moves_story: RevisionRule = lambda revisions_today: True,
        link_veto: LinkVeto | None = None,
    ) -> SaveCounts:
        """Insert new items and update changed ones in one transaction."""
        new = updated = merged = 0
        with self.transaction():
            if not self.source_exists(source.id):
                return SaveCounts(0, 0, 0)  # removed while it was being polled: store nothing for it
            items = list(new_items)
            stored = self._rows_by_key(
                "SELECT key, id, content_hash, published, updated, story_id, revisions, revisions_since "
                "FROM items WHERE source_id = ? AND key IN ({})",
                source.id,
                [item.key for item in items],
            )
            pruned = self._rows_by_key(
                "SELECT key FROM tombstones WHERE source_id = ? AND key IN ({})",
                source.id,
                [item.key for item in items if item.key not in stored],
            )
            written: list[tuple[int, NewItem]] = []
            for item in items:
                row = stored.get(item.key)
                if row is None:
                    if item.key in pruned:
                        continue
                    item_id, joined = self._insert_item(source, item, now, window, choose_story, link_veto)
                    written.append((item_id, item))
                    merged += joined
                    new += 1
                elif row[1] != item.content_hash:
                    self._update_item(row, item, now, revision_moves_story)
                    written.append((row[0], item))
                    updated += 1
            self._index_for_search(written)
        return SaveCounts(new, updated, merged)

    def _rows_by_key(self, sql: str, source_id: int, keys: list[str]) -> dict[str, tuple[Any, ...]]:
        """Rows of one source's items (or tombstones) by key: `sql` has `{}` for the key list and
        selects the key first. One query a few hundred keys, not one per item."""
        found: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(keys), KEYS_PER_QUERY):
            chunk = keys[start : start + KEYS_PER_QUERY]
            for row in self.db.execute(sql.format(",".join("?" * len(chunk))), [source_id, *chunk]):
                found[row[0]] = row[1:]
        return found

    def _insert_item(
        self,
        source: Source,
        item: NewItem,
        now: datetime,
        window: timedelta,
        choose_story: StoryChooser | None,
        link_veto: LinkVeto | None,
    ) -> tuple[int, bool]:
        """Store a new item: its id, and True when it joined an existing story."""
        published = item.published or now
        updated = max(item.updated or published, published)
        story_id = self._matching_story(source, item, published, window, choose_story, link_veto)
        joined = story_id is not None
        if story_id is None:
            story_id = self._insert(
                "stories",
                {
                    "key": item.story_key,
                    "published": to_text(published),
                    "updated": to_text(updated),
                },
            )
        else:
            self.db.execute(
                "UPDATE stories SET published = MIN(published, ?), updated = MAX(updated, ?) WHERE id = ?",
                [to_text(published), to_text(updated), story_id],
            )
        item_id = self._insert(
            "items",
            {
                "source_id": source.id,
                "key": item.key,
                "story_id": story_id,
                **_content_fields(item),
                "published": to_text(published),
                "updated": to_text(updated),
                "first_seen": to_text(now),
            },
        )
        self._add_topics(item_id, item.topics)
        published_text = to_text(published)
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO story_keys (key, story_id, published) VALUES (?, ?, ?)",
            [(key, story_id, published_text) for key in item.match_keys + tuple(key for _, key in item.name_keys)],
        )
        return item_id, joined

    def _matching_story(
        self,
        source: Source,
        item: NewItem,
        published: datetime,
        window: timedelta,
        choose_story: StoryChooser | None,
        link_veto: LinkVeto | None,
    ) -> int | None:
        # Same article URL, or the same headline, reported within the window: the same story.
        earliest, latest = to_text(published - window), to_text(published + window)
        if item.canonical_link:
            row = self.db.execute(
                """SELECT story_id FROM items WHERE canonical_link = ? AND published BETWEEN ? AND ?
                   ORDER BY published LIMIT 1""",
                [item.canonical_link, earliest, latest],
            ).fetchone()
            if row and not (link_veto and link_veto(item, self._reports(int(row[0])))):
                return int(row[0])
        if choose_story and item.match_keys:
            common, named = self.name_stories(item.name_keys, published)
            reports = self._candidate_reports(source.id, item.match_keys, earliest, latest, named)
            if reports:
                return choose_story(replace(item, common_names=common), reports)
        return None

    def name_stories(
        self, name_keys: Sequence[tuple[str, int]], published: datetime
    ) -> tuple[frozenset[str], set[int]]:
        """Of a report's `name_keys` (stories.name_keys), the names that more than RARE_NAME_STORIES
        stories carry within DEVELOPING_HOURS of `published`, and the stories that carry one of
        the others (a rare name) in those hours."""
        if not name_keys:
            return frozenset(), set()
        near = timedelta(hours=DEVELOPING_HOURS)
        postings = (
            "SELECT * FROM (SELECT key, story_id FROM story_keys WHERE key = ? AND published BETWEEN ? AND ?"
            f" ORDER BY published DESC LIMIT {RARE_NAME_POSTINGS})"
        )
        window = (to_text(published - near), to_text(published + near))
        rows = self.db.execute(
            " UNION ALL ".join([postings] * len(name_keys)), [v for _, key in name_keys for v in (key, *window)]
        ).fetchall()
        by_key: dict[int, set[int]] = {}
        for key, story_id in rows:
            by_key.setdefault(key, set()).add(story_id)
        common = frozenset(name for name, key in name_keys if len(by_key.get(key, ())) > RARE_NAME_STORIES)
        named = {story_id for stories in by_key.values() if len(stories) <= RARE_NAME_STORIES for story_id in stories}
        return common, named

    def _candidate_reports(
        self, source_id: int, keys: Sequence[int], earliest: str, latest: str, named: set[int]
    ) -> list[StoredReport]:
        """The reports a new item of `source_id` is compared with: of the MAX_CANDIDATE_STORIES
        stories sharing most keys with it within the window, and of the `named` stories (sharing a
        rare name with it), the first and the latest few reports of each (a story carried by twenty
        outlets is twenty copies of a few headlines). A story the source already carries is left
        out: one feed does not carry one story twice, so headlines alike within a source are
        different news."""
        # Each key's newest postings only: a key in more reports than that (a common name pair, a
        # template headline's band) says little, and reading all of them made a poll of 2,000
        # farm feeds crawl once the archive held 75,000 items.
        postings = (
            "SELECT story_id FROM (SELECT story_id FROM story_keys WHERE key = ? AND published BETWEEN ? AND ?"
            f" ORDER BY published DESC LIMIT {KEY_POSTINGS})"
        )
        # Counted and ranked by SQLite in the same statement that reads the reports: a new item's
        # keys have a hundred or more postings, and turning each into a Python row cost about 30 us.
        # The named stories only when there are some: an empty union cost a sixth of the statement.
        also_named = f"UNION SELECT id FROM stories WHERE id IN ({','.join('?' * len(named))})" if named else ""
        rows = self.db.execute(
            f"""WITH shared (story_id) AS ({" UNION ALL ".join([postings] * len(keys))}),
                     top (story_id) AS (SELECT * FROM (SELECT story_id FROM shared GROUP BY story_id
                                        ORDER BY COUNT(*) DESC, story_id DESC LIMIT {MAX_CANDIDATE_STORIES})
                                        {also_named})
                SELECT i.story_id, i.source_id, i.title, i.summary, i.published, i.match_words
                FROM top JOIN items i ON i.story_id = top.story_id
                ORDER BY i.story_id, i.published, i.id""",
            [*(value for key in keys for value in (key, earliest, latest)), *sorted(named)],
        ).fetchall()
        by_story: dict[int, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_story.setdefault(row[0], []).append(row)
        chosen = []
        for reports in by_story.values():
            if any(row[1] == source_id for row in reports):
                continue
            newest = len(reports) - CANDIDATE_REPORTS_NEWEST
            chosen += [row for n, row in enumerate(reports) if n < CANDIDATE_REPORTS_OLDEST or n >= newest]
        chosen.sort(key=lambda row: row[4])
        return [
            StoredReport(story_id, title, summary, from_text(when), words, story_id in named)
            for story_id, _, title, summary, when, words in chosen
        ]

    def _reports(self, story_id: int) -> list[StoredReport]:
        rows = self.db.execute(
            "SELECT title, summary, published FROM items WHERE story_id = ? ORDER BY published", [story_id]
        )
        return [StoredReport(story_id, title, summary, from_text(when)) for title, summary, when in rows.fetchall()]

    def _update_item(
        self, row: tuple[Any, ...], item: NewItem, now: datetime, revision_moves_story: RevisionRule
    ) -> None:
        item_id, _, _, stored_updated, story_id, revisions, revisions_since = row
        # Revisions are counted per day, so a report that keeps changing can be told from one corrected once.
        since = from_text(revisions_since)
        if since is None or now - since >= timedelta(days=1):
            since, revisions = now, 0
        revisions += 1
        # The entry's own date wins when it moved forward; otherwise the moment we saw the change.
        stored = from_text(stored_updated) or now
        updated = item.updated if item.updated and item.updated > stored else max(now, stored)
        fields: dict[str, Any] = {
            **_content_fields(item),
            "updated": to_text(updated),
            "revisions": revisions,
            "revisions_since": to_text(since),
        }
        if item.published:
            fields["published"] = to_text(item.published)
        self.db.table("items").update(item_id, fields)
        if revision_moves_story(revisions):
            self.db.execute("UPDATE stories SET updated = MAX(updated, ?) WHERE id = ?", [to_text(updated), story_id])
        self._set_topics(item_id, item.topics)

    def _index_for_search(self, written: list[tuple[int, NewItem]]) -> None:
        # All of a feed's items at once, after its other writes: every statement that opens a
        # statement journal (a trigger, several rows) makes FTS5 flush its pending rows, and a flush
        # per item cost about a twentieth of a cold poll (2.2 s of 45 at 300 farm feeds).
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO items_search (rowid, title, summary) VALUES (?, ?, ?)",
            [(item_id, item.title, search_text(item.summary)) for item_id, item in written],
        )

    def _set_topics(self, item_id: int, topics: Sequence[str]) -> None:
        self.db.execute("DELETE FROM item_topics WHERE item_id = ?", [item_id])
        self._add_topics(item_id, topics)

    def _add_topics(self, item_id: int, topics: Sequence[str]) -> None:
        self.db.conn.executemany(
            "INSERT INTO item_topics (item_id, topic) VALUES (?, ?)", [(item_id, t) for t in topics]
        )

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        # Plain SQL on the hot path: sqlite-utils' insert() re-reads the table's schema on every call.
        columns = ", ".join(row)
        marks = ", ".join("?" * len(row))
        cursor = self.db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def retopic_items(self, topics_for: Callable[[ItemFacts], Sequence[str]]) -> int:
        """Re-evaluate every item's topics with `topics_for`; returns how many items changed topics."""
        rows = self.db.execute(
            """SELECT i.id, i.title, i.summary, i.categories, i.language, s.url,
                      COALESCE(s.name, s.feed_title, s.url), s.topics,
                      (SELECT json_group_array(topic) FROM item_topics t WHERE t.item_id = i.id)
               FROM items i JOIN sources s ON s.id = i.source_id"""
        ).fetchall()
        changed = 0
        with self.transaction():
            for item_id, title, summary, categories, language, url, name, source_topics, current in rows:
                facts = ItemFacts(
                    title=title,
                    summary_html=summary,
                    source_url=url,
                    source_name=name,
                    source_topics=tuple(json.loads(source_topics)),
                    categories=tuple(json.loads(categories)),
                    language=language,
                )
                topics = topics_for(facts)
                if sorted(topics) != sorted(json.loads(current)):
                    self._set_topics(item_id, topics)
                    changed += 1
        return changed

    def items(self, topic: str | None = None, source_id: int | None = None, limit: int = 50) -> list[Item]:
        """Items newest first, optionally of one topic or one source."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if topic:
            where.append("i.id IN (SELECT item_id FROM item_topics WHERE topic = ?)")
            params.append(topic)
        if source_id is not None:
            where.append("i.source_id = ?")
            params.append(source_id)
        return self._items(" AND ".join(where), params, order="i.published DESC, i.id DESC", limit=limit)

    def search(self, query: str, topic: str | None = None, source_id: int | None = None, limit: int = 50) -> list[Item]:
        """Items matching an FTS5 query over headlines and summaries, best first (bm25, a headline
        word counting twice a summary word), optionally of one topic or one source. A query that is
        not FTS5 syntax (say "rare-earth" or "U.N.") is searched as its plain words."""
        try:
            return self._search(query, topic, source_id, limit)
        except sqlite3.OperationalError:
            words = " ".join('"' + word.replace('"', '""') + '"' for word in query.split())
        try:
            return self._search(words, topic, source_id, limit)
        except sqlite3.Error as exc:
            raise StorageError(f"The database {self.path} could not be searched: {exc}.") from exc

    def _search(self, query: str, topic: str | None, source_id: int | None, limit: int) -> list[Item]:
        sql = "SELECT rowid FROM items_search WHERE items_search MATCH ?"
        params: list[Any] = [query]
        if topic:
            sql += " AND rowid IN (SELECT item_id FROM item_topics WHERE topic = ?)"
            params.append(topic)
        if source_id is not None:
            sql += " AND rowid IN (SELECT id FROM items WHERE source_id = ?)"
            params.append(source_id)
        sql += f" ORDER BY bm25(items_search, 2.0, 1.0) LIMIT {int(limit)}"
        ids = [row[0] for row in self.db.execute(sql, params).fetchall()]
        if not ids:
            return []
        found = {item.id: item for item in self._items(f"i.id IN ({','.join('?' * len(ids))})", ids, "i.id", None)}
        return [found[item_id] for item_id in ids if item_id in found]

    def _redate_stories(self, story_ids: Iterable[int]) -> None:
        # A story whose first report left now starts at its next report.
        self.db.conn.executemany(
            """UPDATE stories SET
                   published = (SELECT MIN(published) FROM items WHERE story_id = stories.id),
                   updated = (SELECT MAX(updated) FROM items WHERE story_id = stories.id)
               WHERE id = ? AND EXISTS (SELECT 1 FROM items WHERE story_id = stories.id)""",
            [(story_id,) for story_id in story_ids],
        )

    def prune(self, older_than: datetime, keep_per_source: int, now: datetime) -> int:
        """Delete items published before `older_than`, except each source's newest `keep_per_source`;
        leave a tombstone for each. Returns how many items were pruned."""
        with self.transaction():
            rows = self.db.execute(
                """SELECT id, source_id, key, story_id FROM (
                       SELECT id, source_id, key, story_id, published,
                              ROW_NUMBER() OVER (PARTITION BY source_id ORDER BY published DESC, id DESC) AS rank
                       FROM items)
                   WHERE published < ? AND rank > ?""",
                [to_text(older_than), keep_per_source],
            ).fetchall()
            if not rows:
                return 0
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO tombstones (source_id, key, pruned_at) VALUES (?, ?, ?)",
                [(source_id, key, to_text(now)) for _, source_id, key, _ in rows],
            )
            ids = [(item_id,) for item_id, _, _, _ in rows]
            self.db.conn.executemany("DELETE FROM item_topics WHERE item_id = ?", ids)
            self.db.conn.executemany("DELETE FROM items WHERE id = ?", ids)
            touched = sorted({(story_id,) for _, _, _, story_id in rows})
            self.db.conn.executemany(
                "DELETE FROM stories WHERE id = ? AND NOT EXISTS (SELECT 1 FROM items WHERE story_id = stories.id)",
                touched,
            )
            self.db.conn.executemany(
                "DELETE FROM story_keys WHERE story_id = ? AND NOT EXISTS (SELECT 1 FROM stories WHERE id = ?)",
                [(story_id, story_id) for (story_id,) in touched],
            )
            self._redate_stories([story_id for (story_id,) in touched])
            self._mark_outputs_stale()
        self.db.execute("PRAGMA optimize")
        return len(rows)

    def vacuum(self) -> None:
        """Give the space of deleted rows back to the file system (rewrites the file; not in the daemon)."""
        self.db.execute("VACUUM")

    def item(self, item_id: int) -> Item:
        items = self._items("i.id = ?", [item_id], order="i.id", limit=1)
        if not items:
            raise NotFoundError(f"There is no item {item_id}; `offthewire items --json` shows item ids.")
        return items[0]

    def latest_stories(self, topic: str | None, limit: int) -> list[Story]:
        """Stories newest first (by their first report), each with every report, oldest first."""
        return self.latest_stories_of([topic], limit)[0]

    def latest_stories_of(self, topics: Sequence[str | None], limit: int) -> list[list[Story]]:
        """`latest_stories` of several feeds at once (each a topic, or None for every story). The
        merged feed and the topic feeds share many stories: each story's reports are read once."""
        feeds = [self._dicts(*self._latest_query(topic, limit)) for topic in topics]
        rows = {row["id"]: row for feed in feeds for row in feed}
        stories = {story.id: story for story in self._stories(list(rows.values()))}
        return [[stories[row["id"]] for row in feed if row["id"] in stories] for feed in feeds]

    def _latest_query(self, topic: str | None, limit: int) -> tuple[str, list[Any]]:
        if topic:
            sql = """SELECT s.* FROM story_topics st JOIN stories s ON s.id = st.story_id WHERE st.topic = ?
                     ORDER BY st.published DESC, st.story_id DESC LIMIT ?"""
            return sql, [topic, limit]
        return "SELECT * FROM stories ORDER BY published DESC, id DESC LIMIT ?", [limit]

    def stories_between(self, topic: str | None, after_id: int, last_id: int) -> list[Story]:
        """The stories (of a topic) with ids after `after_id` up to `last_id`, newest first."""
        ids = self._story_ids(topic, after_id, last_id, None)
        marks = ",".join("?" * len(ids))
        return self._stories(self._dicts(f"SELECT * FROM stories WHERE id IN ({marks}) ORDER BY id DESC", ids))

    def open_story_ids(self, topic: str | None, after_id: int, limit: int) -> list[int]:
        """The first `limit` story ids (of a topic) after `after_id`, oldest first."""
        return self._story_ids(topic, after_id, None, limit)

    def _story_ids(self, topic: str | None, after_id: int, last_id: int | None, limit: int | None) -> list[int]:
        params: list[Any]
        if topic is None:
            sql, params = "SELECT id FROM stories WHERE id > ?", [after_id]
        else:
            sql, params = "SELECT story_id FROM story_topics WHERE topic = ? AND story_id > ?", [topic, after_id]
        column = "id" if topic is None else "story_id"
        if last_id is not None:
            sql += f" AND {column} <= {int(last_id)}"
        sql += f" ORDER BY {column}" + ("" if limit is None else f" LIMIT {int(limit)}")
        return [row[0] for row in self.db.execute(sql, params).fetchall()]

    def archive_pages(self, feed: str, newest: int) -> list[tuple[int, int]]:
        """A feed's `newest` closed archive pages as (page, last_story_id), oldest first."""
        sql = "SELECT page, last_story_id FROM archive_pages WHERE feed = ? ORDER BY page DESC LIMIT ?"
        return [(page, last) for page, last in reversed(self.db.execute(sql, [feed, newest]).fetchall())]

    def close_archive_page(self, feed: str, page: int, last_story_id: int, now: datetime) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO archive_pages (feed, page, last_story_id, closed_at) VALUES (?, ?, ?, ?)",
                [feed, page, last_story_id, to_text(now)],
            )

    def _stories(self, story_rows: list[dict[str, Any]]) -> list[Story]:
        """Stories from their rows, in the rows' order, each with every report, oldest first."""
        if not story_rows:
            return []
        # The ids as one JSON array, not a parameter each: a publish asks for the stories of every
        # feed at once, which could pass SQLite's limit of 32,766 parameters.
        ids = json.dumps([r["id"] for r in story_rows])
        reports: dict[int, list[Item]] = {}
        for item in self._items(
            "i.story_id IN (SELECT value FROM json_each(?))", [ids], order="i.published, i.id", limit=None
        ):
            reports.setdefault(item.story_id, []).append(item)
        stories = []
        for row in story_rows:
            items = tuple(reports.get(row["id"], ()))
            if not items:
                continue
            topics = tuple(dict.fromkeys(t for item in items for t in item.topics))
            stories.append(
                Story(
                    id=row["id"],
                    key=row["key"],
                    published=from_text(row["published"]) or items[0].published,
                    updated=from_text(row["updated"]) or items[0].updated,
                    reports=items,
                    topics=topics,
                )
            )
        return stories

    def topic_counts(self) -> dict[str, int]:
        """Items per topic slug."""
        rows = self.db.execute("SELECT topic, COUNT(*) FROM item_topics GROUP BY topic ORDER BY topic").fetchall()
        return {topic: count for topic, count in rows}

    def source_topics(self) -> set[str]:
        """Every topic some subscribed source was added with."""
        rows = self.db.execute(
            "SELECT DISTINCT topics FROM sources WHERE removed_at IS NULL AND topics != '[]'"
        ).fetchall()
        return {topic for (text,) in rows for topic in json.loads(text)}

    def _items(self, where: str, params: list[Any], order: str, limit: int | None) -> list[Item]:
        # Only the columns an Item holds, in _item's order, as tuples: a publish reads about a
        # thousand reports, and every column with a dict for each row took a fifth of its time.
        sql = f"""SELECT i.id, i.source_id, COALESCE(s.name, s.feed_title, s.url), i.title, i.link, i.summary,
                         i.content, i.author, i.published, i.updated,
                         (SELECT group_concat(topic, ' ') FROM item_topics t WHERE t.item_id = i.id),
                         i.story_id, s.url, s.feed_link, s.feed_id, s.feed_updated, s.feed_rights, s.rights
                  FROM items i JOIN sources s ON s.id = i.source_id
                  WHERE {where} ORDER BY {order}"""
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            rows = self.db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"The database {self.path} could not be read: {exc}.") from exc
        return [_item(row) for row in rows]

    def _dicts(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        try:
            cursor = self.db.execute(sql, list(params))
        except sqlite3.Error as exc:
            raise StorageError(f"The database {self.path} could not be read: {exc}.") from exc
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _source(row: sqlite3.Row) -> Source:
    return Source(
        id=row["id"],
        url=row["url"],
        name=row["name"],
        topics=_json_tuple(row["topics"]),
        every_minutes=row["every_minutes"],
        enabled=bool(row["enabled"]),
        etag=_header_text(row["etag"]),
        last_modified=_header_text(row["last_modified"]),
        body_hash=row["body_hash"],
        last_fetched_at=from_text(row["last_fetched_at"]),
        last_status=row["last_status"],
        last_error=row["last_error"],
        last_warning=row["last_warning"],
        error_count=row["error_count"],
        next_fetch_at=from_text(row["next_fetch_at"]),
        feed_title=row["feed_title"],
        feed_link=row["feed_link"],
        item_count=row["item_count"],
        hints=_hints(row["hints"]),
        next_reason=row["next_reason"],
        schedule_considered=_json_tuple(row["schedule_considered"] or "[]"),
        rights=row["rights"],
    )


# Many sources share these texts ("[]", the same hints, the same schedule reasons): a poll of 2,000
# sources decodes each once.
@functools.lru_cache(maxsize=4096)
def _json_tuple(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _content_fields(item: NewItem) -> dict[str, Any]:
    """The columns an upstream rewrite can change."""
    return {
        "title": item.title,
        "link": item.link,
        "canonical_link": item.canonical_link,
        "summary": item.summary,
        "content": item.content,
        "author": item.author,
        "content_hash": item.content_hash,
        "categories": json.dumps(list(item.categories)),
        "language": item.language,
        "match_words": item.match_words or None,
    }


def _header_text(value: bytes | str | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def _hints_json(hints: FeedHints) -> str:
    return json.dumps(
        {
            "ttl_minutes": hints.ttl_minutes,
            "update_minutes": hints.update_minutes,
            "skip_hours": sorted(hints.skip_hours),
            "skip_days": sorted(hints.skip_days),
        }
    )


@functools.lru_cache(maxsize=1024)
def _hints(text: str | None) -> FeedHints:
    if not text:
        return FeedHints()
    data = json.loads(text)
    return FeedHints(
        ttl_minutes=data["ttl_minutes"],
        update_minutes=data["update_minutes"],
        skip_hours=frozenset(data["skip_hours"]),
        skip_days=frozenset(data["skip_days"]),
    )


def _item(row: tuple[Any, ...]) -> Item:
    """An Item from a row of the columns `Store._items` selects."""
    (item_id, source_id, source, title, link, summary, content, author, published_at, updated_at, topics, story_id,
     source_url, feed_link, feed_id, feed_updated, source_rights, rights_mode) = row  # fmt: skip
    published, updated = from_text(published_at), from_text(updated_at)
    assert published and updated
    return Item(
        id=item_id,
        source_id=source_id,
        source=source,
        title=title,
        link=link,
        summary=summary,
        content=content,
        author=author,
        published=published,
        updated=updated,
        topics=tuple(sorted(topics.split())) if topics else (),  # slugs have no spaces
        story_id=story_id,
        source_url=source_url,
        source_feed_link=feed_link,
        source_feed_id=feed_id,
        source_feed_updated=from_text(feed_updated),
        source_rights=source_rights,
        rights_mode=rights_mode,
    )
