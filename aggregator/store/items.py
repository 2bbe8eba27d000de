"""Items, their stories, topics, story keys and search rows: writing them, reading what story
matching compares a new item with, re-topicking and pruning them. What story an item joins is
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
from aggregator.types import ItemFacts, NewItem, Revision, StoredItem, StoredReport

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

    def story_with_link(self, canonical_link: str, earliest: datetime, latest: datetime) -> int | None:
        """The story of the first item linking this article between `earliest` and `latest`."""
        row = self.db.execute(
            """SELECT story_id FROM items WHERE canonical_link = ? AND published BETWEEN ? AND ?
               ORDER BY published LIMIT 1""",
            [canonical_link, to_text(earliest), to_text(latest)],
        ).fetchone()
        return int(row[0]) if row else None

    def story_reports(self, story_id: int) -> list[StoredReport]:
        """Every report of a story, oldest first."""
        rows = self.db.execute(
            "SELECT title, summary, published FROM items WHERE story_id = ? ORDER BY published", [story_id]
        )
        return [StoredReport(story_id, title, summary, from_text(when)) for title, summary, when in rows.fetchall()]

    def name_postings(
        self, keys: Sequence[int], earliest: datetime, latest: datetime, postings: int
    ) -> dict[int, set[int]]:
        """For each name key, the stories among its newest `postings` between `earliest` and `latest`."""
        if not keys:
            return {}
        sql = (
            "SELECT * FROM (SELECT key, story_id FROM story_keys WHERE key = ? AND published BETWEEN ? AND ?"
            f" ORDER BY published DESC LIMIT {int(postings)})"
        )
        window = (to_text(earliest), to_text(latest))
        rows = self.db.execute(" UNION ALL ".join([sql] * len(keys)), [v for key in keys for v in (key, *window)])
        by_key: dict[int, set[int]] = {}
        for key, story_id in rows.fetchall():
            by_key.setdefault(key, set()).add(story_id)
        return by_key

    def candidate_reports(
        self,
        keys: Sequence[int],
        earliest: datetime,
        latest: datetime,
        named: set[int],
        stories: int,
        postings: int,
    ) -> dict[int, list[StoredReport]]:
        """The reports, oldest first, of the `stories` stories sharing most of these keys between
        `earliest` and `latest` (each key's newest `postings` counted), and of the `named` stories."""
        # Each key's newest postings only: a key in more reports than that (a common name pair, a
        # template headline's band) says little, and reading all of them made a poll of 2,000
        # farm feeds crawl once the archive held 75,000 items.
        sql = (
            "SELECT story_id FROM (SELECT story_id FROM story_keys WHERE key = ? AND published BETWEEN ? AND ?"
            f" ORDER BY published DESC LIMIT {int(postings)})"
        )
        # Counted and ranked by SQLite in the same statement that reads the reports: a new item's
        # keys have a hundred or more postings, and turning each into a Python row cost about 30 us.
        # The named stories only when there are some: an empty union cost a sixth of the statement.
        also_named = f"UNION SELECT id FROM stories WHERE id IN ({','.join('?' * len(named))})" if named else ""
        window = (to_text(earliest), to_text(latest))
        rows = self.db.execute(
            f"""WITH shared (story_id) AS ({" UNION ALL ".join([sql] * len(keys))}),
                     top (story_id) AS (SELECT * FROM (SELECT story_id FROM shared GROUP BY story_id
                                        ORDER BY COUNT(*) DESC, story_id DESC LIMIT {int(stories)})
                                        {also_named})
                SELECT i.story_id, i.source_id, i.title, i.summary, i.published, i.match_words
                FROM top JOIN items i ON i.story_id = top.story_id
                ORDER BY i.story_id, i.published, i.id""",
            [*(value for key in keys for value in (key, *window)), *sorted(named)],
        ).fetchall()
        by_story: dict[int, list[StoredReport]] = {}
        for story_id, source_id, title, summary, when, words in rows:
            report = StoredReport(story_id, title, summary, from_text(when), words, story_id in named, source_id)
            by_story.setdefault(story_id, []).append(report)
        return by_story

    def insert_item(self, source_id: int, item: NewItem, now: datetime, story_id: int | None) -> tuple[int, int]:
        """Store a new item in the story `story_id`, or in a new story of its own when None; its
        id and its story's. Dated by its publisher, else by `now`, when it was first seen."""
        published = item.published or now
        updated = max(item.updated or published, published)
        if story_id is None:
            story_id = self._insert(
                "stories", {"key": item.story_key, "published": to_text(published), "updated": to_text(updated)}
            )
        else:
            self.db.execute(
                "UPDATE stories SET published = MIN(published, ?), updated = MAX(updated, ?) WHERE id = ?",
                [to_text(published), to_text(updated), story_id],
            )
        item_id = self._insert(
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
        published_text = to_text(published)
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO story_keys (key, story_id, published) VALUES (?, ?, ?)",
            [(key, story_id, published_text) for key in item.match_keys + tuple(key for _, key in item.name_keys)],
        )
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
        self.db.table("items").update(stored.id, fields)
        if revision.moves_story:
            moved = [to_text(revision.updated), stored.story_id]
            self.db.execute("UPDATE stories SET updated = MAX(updated, ?) WHERE id = ?", moved)
        self._set_topics(stored.id, item.topics)

    def index_for_search(self, written: Sequence[tuple[int, NewItem]]) -> None:
        """Index items just written for full-text search."""
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

    def recent_titles(self, since: datetime) -> list[tuple[int, str, datetime]]:
        """(story id, title, published) of every item published since `since`."""
        rows = self.db.execute("SELECT story_id, title, published FROM items WHERE published >= ?", [to_text(since)])
        return [(story_id, title, from_text(published) or since) for story_id, title, published in rows.fetchall()]

    def replace_story_keys(self, since: datetime, keys: Sequence[tuple[int, int, datetime]]) -> None:
        """The story keys of reports published since `since` replaced by `keys` (key, story id, published)."""
        with self.transaction():
            self.db.execute("DELETE FROM story_keys WHERE published >= ?", [to_text(since)])
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO story_keys (key, story_id, published) VALUES (?, ?, ?)",
                [(key, story_id, to_text(published)) for key, story_id, published in keys],
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
            self.mark_outputs_stale()
        self.db.execute("PRAGMA optimize")
        return len(rows)

    def vacuum(self) -> None:
        """Give the space of deleted rows back to the file system (rewrites the file; not in the daemon)."""
        self.db.execute("VACUUM")


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
