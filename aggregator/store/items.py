"""Items, their stories, topics and search rows: writing them, reading the window's reports for the
story index, re-topicking and pruning them. What story an item joins is
decided by the caller (`update.storing`); this module only stores it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aggregator.store.database import Database
from aggregator.store.schema import from_text, to_text
from aggregator.text import search_text
from aggregator.types import ItemFacts, NewItem, Revision, StoredItem, WindowReport

KEYS_PER_QUERY = 500  # item keys looked up in one statement (SQLite allows 32,766 parameters)


class ItemRecords(Database):
    """Items and their stories: written, read for story matching, re-topicked and pruned."""

    def stored_items(self, source_id: int, keys: Sequence[str]) -> dict[str, StoredItem]:
        """The items `source_id` stored before under these keys."""
        rows = self._rows_by_key(
            "SELECT key, id, content_hash, updated, story_id, revisions, revisions_since "
            "FROM items WHERE source_id = ? AND key IN ({})",
            source_id,
            keys,
        )
        return {
            key: StoredItem(item_id, content_hash, from_text(updated), story_id, revisions, from_text(since))
            for key, (item_id, content_hash, updated, story_id, revisions, since) in rows.items()
        }

    def pruned_keys(self, source_id: int, keys: Sequence[str]) -> set[str]:
        """Of these keys, those of items `source_id` sent that retention pruned (their tombstones)."""
        return set(self._rows_by_key("SELECT key FROM tombstones WHERE source_id = ? AND key IN ({})", source_id, keys))

    def _rows_by_key(self, sql: str, source_id: int, keys: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """Rows of one source's items (or tombstones) by key: `sql` has `{}` for the key list and
        selects the key first. One query a few hundred keys, not one per item."""
        found: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(keys), KEYS_PER_QUERY):
            chunk = keys[start : start + KEYS_PER_QUERY]
            for row in self.db.execute(sql.format(",".join("?" * len(chunk))), [source_id, *chunk]):
                found[row[0]] = row[1:]
        return found

    def window_reports(self, since: datetime, until: datetime | None = None, after_id: int = 0) -> list[WindowReport]:
        """The items published since `since` (and before `until`) with an id above `after_id`, for
        the story index."""
        # With an id to start from, the newest items are read by id (the unary + keeps SQLite off
        # the index on `published`, which would read the whole window).
        where = f"id > ? AND {self.db.unordered}published >= ?" if after_id else "published >= ? AND id > ?"
        params: list[Any] = [after_id, to_text(since)] if after_id else [to_text(since), after_id]
        if until:
            where += " AND published < ?"
            params.append(to_text(until))
        rows = self.db.execute(
            f"""SELECT id, source_id, key, story_id, title, summary, published, canonical_link
                FROM items WHERE {where} ORDER BY id""",
            params,
        )
        return [
            WindowReport(item_id, source_id, key, story_id, title, summary, from_text(published) or since, link)
            for item_id, source_id, key, story_id, title, summary, published, link in rows.fetchall()
        ]

    def item_ids_after(self, after_id: int) -> list[int]:
        """The ids of the items stored after item `after_id`, in order."""
        return [row[0] for row in self.db.execute("SELECT id FROM items WHERE id > ? ORDER BY id", [after_id])]

    def insert_item(self, source_id: int, item: NewItem, now: datetime, story_id: int | None) -> tuple[int, int]:
        """Store a new item in the story `story_id`, or in a new story of its own when None (or when
        that story is gone: pruned or removed meanwhile); its id and its story's. Dated by its
        publisher, else by `now`, when it was first seen."""
        published = item.published or now
        updated = max(item.updated or published, published)
        if story_id is not None:
            joined = self.db.execute(
                "UPDATE stories SET published = least(published, ?), updated = greatest(updated, ?) WHERE id = ?",
                [to_text(published), to_text(updated), story_id],
            )
            story_id = story_id if joined.rowcount else None
        if story_id is None:
            story_id = self.db.insert(
                "stories", {"key": item.story_key, "published": to_text(published), "updated": to_text(updated)}
            )
        item_id = self.db.insert(
            "items",
            {
                "source_id": source_id,
                "key": item.key,
                "story_id": story_id,
                **_content_fields(item),
                "published": to_text(published),
                "updated": to_text(updated),
                "first_seen": to_text(now),
            },
        )
        self._add_topics(item_id, item.topics)
        return item_id, story_id

    def update_item(self, stored: StoredItem, item: NewItem, revision: Revision) -> None:
        """Store a revised item in place, and move its story's `updated` when the revision says so."""
        fields: dict[str, Any] = {
            **_content_fields(item),
            "updated": to_text(revision.updated),
            "revisions": revision.revisions,
            "revisions_since": to_text(revision.since),
        }
        if item.published:
            fields["published"] = to_text(item.published)
        self.db.update("items", stored.id, fields)
        if revision.moves_story:
            moved = [to_text(revision.updated), stored.story_id]
            self.db.execute("UPDATE stories SET updated = greatest(updated, ?) WHERE id = ?", moved)
        self._set_topics(stored.id, item.topics)

    def index_for_search(self, written: Sequence[tuple[int, NewItem]]) -> None:
        """Index items just written for full-text search."""
        # All of a feed's items at once, after its other writes: every statement that opens a
        # statement journal (a trigger, several rows) makes FTS5 flush its pending rows, and a flush
        # per item cost about a twentieth of a cold poll (2.2 s of 45 at 300 farm feeds).
        self.index_for_search_rows([(item_id, item.title, search_text(item.summary)) for item_id, item in written])

    def index_for_search_rows(self, rows: Sequence[tuple[int, str, str]]) -> None:
        """Index (item id, headline, summary as text) rows for full-text search."""
        if self.db.dialect == "postgresql":
            self.db.executemany(
                "INSERT INTO items_search (item_id, document) VALUES (?, "
                "setweight(to_tsvector('simple', ?), 'A') || setweight(to_tsvector('simple', ?), 'B')) "
                "ON CONFLICT (item_id) DO UPDATE SET document = excluded.document",
                rows,
            )
        else:
            self.db.executemany("INSERT OR REPLACE INTO items_search (rowid, title, summary) VALUES (?, ?, ?)", rows)

    def _set_topics(self, item_id: int, topics: Sequence[str]) -> None:
        self.db.execute("DELETE FROM item_topics WHERE item_id = ?", [item_id])
        self._add_topics(item_id, topics)

    def _add_topics(self, item_id: int, topics: Sequence[str]) -> None:
        self.db.executemany("INSERT INTO item_topics (item_id, topic) VALUES (?, ?)", [(item_id, t) for t in topics])

    def retopic_items(self, topics_for: Callable[[ItemFacts], Sequence[str]]) -> int:
        """Re-evaluate every item's topics with `topics_for`; returns how many items changed topics."""
        rows = self.db.execute(
            f"""SELECT i.id, i.title, i.summary, i.categories, i.language, s.url,
                      COALESCE(s.name, s.feed_title, s.url), s.topics,
                      (SELECT {self.db.concat_words}(topic, ' ') FROM item_topics t WHERE t.item_id = i.id)
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
                if sorted(topics) != sorted((current or "").split()):  # slugs have no spaces
                    self._set_topics(item_id, topics)
                    changed += 1
        return changed

    def prune(self, older_than: datetime, keep_per_source: int, now: datetime) -> int:
        """Delete items published before `older_than`, except each source's newest `keep_per_source`;
        leave a tombstone for each. Returns how many items were pruned."""
        with self.transaction():
            rows = self.db.execute(
                """SELECT id, source_id, key, story_id FROM (
                       SELECT id, source_id, key, story_id, published,
                              ROW_NUMBER() OVER (PARTITION BY source_id ORDER BY published DESC, id DESC) AS rank
                       FROM items) AS ranked
                   WHERE published < ? AND rank > ?""",
                [to_text(older_than), keep_per_source],
            ).fetchall()
            if not rows:
                return 0
            self.db.executemany(
                "INSERT INTO tombstones (source_id, key, pruned_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(source_id, key, to_text(now)) for _, source_id, key, _ in rows],
            )
            ids = [(item_id,) for item_id, _, _, _ in rows]
            self.db.executemany("DELETE FROM item_topics WHERE item_id = ?", ids)
            self.db.executemany("DELETE FROM items WHERE id = ?", ids)
            touched = sorted({(story_id,) for _, _, _, story_id in rows})
            self.db.executemany(
                "DELETE FROM stories WHERE id = ? AND NOT EXISTS (SELECT 1 FROM items WHERE story_id = stories.id)",
                touched,
            )
            self._redate_stories([story_id for (story_id,) in touched])
            self.mark_outputs_stale()
        self.db.optimize()
        return len(rows)

    def vacuum(self) -> None:
        """Give the space of deleted rows back to the file system (rewrites the file; not in the daemon)."""
        self.db.vacuum()


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
    }
