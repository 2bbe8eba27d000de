"""One SQLite database: its connection (WAL, a busy timeout, NORMAL sync), its schema brought up to
date, its transactions and savepoints, and its meta values. The rest of the store is written over it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from aggregator.exceptions import StorageError, UnstorableError
from aggregator.store.schema import migrations

BUSY_TIMEOUT_MS = 10_000
BATCH_SECONDS = 0.5  # longest a poll keeps its write transaction open (see Database.batch)
WAL_CHECKPOINT_PAGES = 10_000  # write-ahead log pages (4 KB) between automatic checkpoints
# Errors about the values written, not about the database: they are the writing source's problem.
_REFUSED_VALUES = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, sqlite3.ProgrammingError)


class Database:
    """One SQLite database: its connection, its schema brought up to date, its transactions and its
    meta values. The other parts of the store are written over it."""

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

    def delete_meta(self, key: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM meta WHERE key = ?", [key])

    def optional_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def mark_outputs_stale(self) -> None:
        """The feeds are behind the database: the next poll publishes even when it stores nothing.
        (The daemon publishes after a tick that changed items; a change made elsewhere, by the CLI
        or a publish that failed, leaves this mark.)"""
        with self.transaction():
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

    def _redate_stories(self, story_ids: Iterable[int]) -> None:
        # A story whose first report left now starts at its next report.
        self.db.conn.executemany(
            """UPDATE stories SET
                   published = (SELECT MIN(published) FROM items WHERE story_id = stories.id),
                   updated = (SELECT MAX(updated) FROM items WHERE story_id = stories.id)
               WHERE id = ? AND EXISTS (SELECT 1 FROM items WHERE story_id = stories.id)""",
            [(story_id,) for story_id in story_ids],
        )

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        # Plain SQL on the hot path: sqlite-utils' insert() re-reads the table's schema on every call.
        columns = ", ".join(row)
        marks = ", ".join("?" * len(row))
        cursor = self.db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _dicts(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        try:
            cursor = self.db.execute(sql, list(params))
        except sqlite3.Error as exc:
            raise StorageError(f"The database {self.path} could not be read: {exc}.") from exc
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
