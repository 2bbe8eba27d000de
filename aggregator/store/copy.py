"""Copying one installation's database into another engine (`offthewire migrate --to URL`): every
table's rows with their ids, in batches inside one transaction (a copy that fails leaves the target
as it was), then the search index and the id sequences, and the row counts of both sides compared.

The install id travels too, so the feeds' ids (made from it) stay the same after the move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aggregator.exceptions import StorageError
from aggregator.store import Store
from aggregator.text import search_text

BATCH_ROWS = 2_000
# In the order their references need; story_topics follows from item_topics (its triggers).
TABLES = ("meta", "sources", "source_aliases", "stories", "items", "item_topics", "tombstones", "archive_pages")
COUNTED = (*TABLES, "story_topics", "items_search")
# Identities to move past the copied ids, so that no id is ever handed out twice.
IDENTITIES = ("sources", "stories", "items")
_BYTES_COLUMNS = ("etag", "last_modified")  # HTTP validators, kept byte for byte


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int

    @property
    def matches(self) -> bool:
        return self.source == self.target


def rows_to_copy(source: Store) -> int:
    """How many rows `copy_database` reads (for a progress bar)."""
    return sum(_count(source, table) for table in TABLES)


def copy_database(source: Store, target: Store, on_rows: Callable[[int], None] | None = None) -> list[TableCount]:
    """Copy every row of `source` into the empty database `target`; the counts of every table on
    both sides. `on_rows(n)` is told of each batch copied."""
    held = _count(target, "sources") + _count(target, "items")
    if held:
        raise StorageError(
            f"The database {target.name} already holds {held} sources and items; migrate into an empty database."
        )
    with target.transaction():
        for table in TABLES:
            _copy_table(source, target, table, on_rows)
        _index_for_search(target)
        for table in IDENTITIES:
            _move_identity(source, target, table)
    return [TableCount(table, _count(source, table), _count(target, table)) for table in COUNTED]


def _copy_table(source: Store, target: Store, table: str, on_rows: Callable[[int], None] | None) -> None:
    cursor = source.db.execute(f"SELECT * FROM {table}")
    columns = [description[0] for description in cursor.description]
    if table == "meta":
        insert = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    else:
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    as_bytes = [i for i, column in enumerate(columns) if column in _BYTES_COLUMNS]
    while rows := cursor.fetchmany(BATCH_ROWS):
        if as_bytes:
            rows = [_with_bytes(row, as_bytes) for row in rows]
        target.db.executemany(insert, rows)
        if on_rows:
            on_rows(len(rows))


def _with_bytes(row: tuple[object, ...], positions: list[int]) -> tuple[object, ...]:
    values = list(row)
    for i in positions:
        if isinstance(values[i], str):
            values[i] = str(values[i]).encode("utf-8", "surrogateescape")
    return tuple(values)


def _index_for_search(target: Store) -> None:
    last = 0
    while rows := target.db.execute(
        "SELECT id, title, summary FROM items WHERE id > ? ORDER BY id LIMIT ?", [last, BATCH_ROWS]
    ).fetchall():
        target.index_for_search_rows([(item_id, title, search_text(summary)) for item_id, title, summary in rows])
        last = rows[-1][0]


def _move_identity(source: Store, target: Store, table: str) -> None:
    highest = source.db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
    if source.db.dialect == "sqlite" and table == "sources":
        # AUTOINCREMENT remembers the ids of sources removed since: they must not come back either.
        row = source.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'sources'").fetchone()
        highest = max(highest, row[0] if row else 0)
    if highest:
        target.db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), ?)", [highest])


def _count(store: Store, table: str) -> int:
    return int(store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
