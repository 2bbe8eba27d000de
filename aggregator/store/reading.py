"""What the outputs, the CLI and the web pages read: items (newest first, by topic or source, by
full-text search), stories with every report, archive pages, topic counts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aggregator.exceptions import NotFoundError, StorageError
from aggregator.store.database import Database
from aggregator.store.schema import from_text, to_text
from aggregator.types import Item, Story


class Reading(Database):
    """What the outputs, the CLI and the web pages read: items, search, stories, archive pages."""

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
            if self.db.dialect == "postgresql":
                return self._search(query, topic, source_id, limit)
            try:
                return self._search(query, topic, source_id, limit)
            except sqlite3.OperationalError:
                words = " ".join('"' + word.replace('"', '""') + '"' for word in query.split())
            return self._search(words, topic, source_id, limit)
        except self.db.errors as exc:
            raise StorageError(f"The database {self.name} could not be searched: {exc}.") from exc

    def _search(self, query: str, topic: str | None, source_id: int | None, limit: int) -> list[Item]:
        params: list[Any]
        if self.db.dialect == "postgresql":
            # websearch_to_tsquery reads any text as a query (quotes, or, -word), never an error.
            sql = "SELECT item_id FROM items_search WHERE document @@ websearch_to_tsquery('simple', ?)"
            order = "ts_rank(document, websearch_to_tsquery('simple', ?), 1) DESC, item_id DESC"
            column, params = "item_id", [query]
        else:
            sql = "SELECT rowid FROM items_search WHERE items_search MATCH ?"
            order, column, params = "bm25(items_search, 2.0, 1.0)", "rowid", [query]
        if topic:
            sql += f" AND {column} IN (SELECT item_id FROM item_topics WHERE topic = ?)"
            params.append(topic)
        if source_id is not None:
            sql += f" AND {column} IN (SELECT id FROM items WHERE source_id = ?)"
            params.append(source_id)
        if self.db.dialect == "postgresql":
            params.append(query)
        sql += f" ORDER BY {order} LIMIT {int(limit)}"
        ids = [row[0] for row in self.db.execute(sql, params).fetchall()]
        if not ids:
            return []
        found = {item.id: item for item in self._items(*self.db.one_of("i.id", ids), "i.id", None)}
        return [found[item_id] for item_id in ids if item_id in found]

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
        condition, params = self.db.one_of("id", self._story_ids(topic, after_id, last_id, None))
        return self._stories(self._dicts(f"SELECT * FROM stories WHERE {condition} ORDER BY id DESC", params))

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
        # A publish asks for the stories of every feed at once: many ids (`one_of`).
        condition, params = self.db.one_of("i.story_id", [r["id"] for r in story_rows])
        reports: dict[int, list[Item]] = {}
        for item in self._items(condition, params, order="i.published, i.id", limit=None):
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
                         (SELECT {self.db.concat_words}(topic, ' ') FROM item_topics t WHERE t.item_id = i.id),
                         i.story_id, s.url, s.feed_link, s.feed_id, s.feed_updated, s.feed_rights, s.rights
                  FROM items i JOIN sources s ON s.id = i.source_id
                  WHERE {where} ORDER BY {order}"""
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            rows = self.db.execute(sql, params).fetchall()
        except self.db.errors as exc:
            raise StorageError(f"The database {self.name} could not be read: {exc}.") from exc
        return [_item(row) for row in rows]


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
