"""One database of the store, SQLite or PostgreSQL (store/connection.py): its schema brought up to
date, its transactions and savepoints, and its meta values. The rest of the store is written over it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aggregator.exceptions import StorageError, UnstorableError
from aggregator.store.connection import Connection, open_connection

BATCH_SECONDS = 0.5  # longest a poll keeps its write transaction open (see Database.batch)


class Database:
    """One database: its connection (`db`), its schema brought up to date, its transactions and its
    meta values. The other parts of the store are written over it."""

    def __init__(self, target: Path | str) -> None:
        self.db: Connection = open_connection(target)
        self.path = self.db.path  # the file, for SQLite
        self.name = self.db.name  # what messages call the database

    def check(self) -> None:
        """Raise StorageError when the database file was deleted or replaced under us, or does not
        answer: an open connection would go on writing to a file nobody can see."""
        self.db.check()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction, or a savepoint inside the one open."""
        db = self.db
        try:
            if db.in_transaction:
                with db.savepoint():
                    yield
                return
            db.begin()
            try:
                yield
            except BaseException:
                if db.in_transaction:
                    db.rollback()
                raise
            db.commit()
        except db.refused as exc:
            raise UnstorableError(f"The database {self.name} refused a value: {exc}.") from exc
        except db.errors as exc:
            if db.in_transaction:
                db.rollback()
            raise StorageError(f"The database {self.name} could not be written: {exc}.") from exc

    @contextmanager
    def batch(self, max_seconds: float = BATCH_SECONDS) -> Iterator[Callable[[], None]]:
        """Many write transactions as few: inside, each `transaction()` is a savepoint (a failure
        still undoes only its own writes), and the `checkpoint()` this yields commits once the batch
        has been open `max_seconds`, so other writers never wait longer than that. Committing a few
        sources' items together writes shared index pages once instead of once per source."""
        db = self.db
        opened = time.monotonic()

        def checkpoint() -> None:
            nonlocal opened
            if db.in_transaction and time.monotonic() - opened >= max_seconds:
                self._commit()
                db.begin()
                opened = time.monotonic()

        try:
            db.begin()
        except db.errors as exc:
            raise StorageError(f"The database {self.name} could not be written: {exc}.") from exc
        try:
            yield checkpoint
        except BaseException:
            if db.in_transaction:
                db.rollback()
            raise
        if db.in_transaction:
            self._commit()

    def _commit(self) -> None:
        try:
            self.db.commit()
        except self.db.errors as exc:
            if self.db.in_transaction:
                self.db.rollback()
            raise StorageError(f"The database {self.name} could not be written: {exc}.") from exc

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.db.execute(_SET_META, [key, value])

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
            self.db.execute(_SET_META, ["outputs_stale", "1"])

    def outputs_stale(self) -> bool:
        return self.optional_meta("outputs_stale") is not None

    def outputs_published(self) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM meta WHERE key = 'outputs_stale'")

    def meta(self, key: str) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        if row is None:
            raise StorageError(f"The database {self.name} has no {key!r}; it was not made by offthewire.")
        return str(row[0])

    def _redate_stories(self, story_ids: Iterable[int]) -> None:
        # A story whose first report left now starts at its next report.
        self.db.executemany(
            """UPDATE stories SET
                   published = (SELECT MIN(published) FROM items WHERE story_id = stories.id),
                   updated = (SELECT MAX(updated) FROM items WHERE story_id = stories.id)
               WHERE id = ? AND EXISTS (SELECT 1 FROM items WHERE story_id = stories.id)""",
            [(story_id,) for story_id in story_ids],
        )

    def _dicts(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        try:
            return [dict(row) for row in self.db.named_rows(sql, list(params))]
        except self.db.errors as exc:
            raise StorageError(f"The database {self.name} could not be read: {exc}.") from exc


_SET_META = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
