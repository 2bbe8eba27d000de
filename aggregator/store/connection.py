"""The connection to one database, behind one small interface so that the store's statements run on
SQLite (the embedded default, a file) and on PostgreSQL (a server several processes share).

Statements are written once, in the SQL both engines speak: `?` placeholders, `INSERT ... ON
CONFLICT`, `RETURNING id`, window functions, `least`/`greatest`. What the two say differently is a
method or an attribute here (`one_of`, `concat_words`, `unordered`), and full-text search is the
engine's own (FTS5 or tsvector; see store/reading.py). `open_connection` picks the engine from the
target: a path is SQLite, a `postgresql://` URL PostgreSQL (store/postgresql.py).
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from aggregator.exceptions import StorageError
from aggregator.store.schema import migrations

BUSY_TIMEOUT_MS = 10_000
WAL_CHECKPOINT_PAGES = 10_000  # write-ahead log pages (4 KB) between automatic checkpoints
POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")


class Connection(ABC):
    """One open database. `execute` takes SQL with `?` placeholders on both engines."""

    dialect: str
    name: str  # what messages call the database: its file, or its URL without a password
    path: Path | None  # the file, for SQLite
    errors: tuple[type[Exception], ...]  # whatever the driver raises
    refused: tuple[type[Exception], ...]  # errors about the values written, not the database
    concat_words = "group_concat"  # aggregate(text, separator)
    unordered = "+"  # before a column: keep the planner off its index (SQLite's unary plus)

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run one statement; the cursor (fetchone, fetchall, iteration, rowcount)."""

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    def named_rows(self, sql: str, params: Sequence[Any]) -> list[Mapping[str, Any]]:
        """Rows readable by column name."""

    @property
    @abstractmethod
    def in_transaction(self) -> bool: ...

    @abstractmethod
    def begin(self) -> None:
        """Open a write transaction."""

    @abstractmethod
    def check(self) -> None:
        """Raise StorageError when the database is gone or does not answer."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def one_of(self, column: str, values: Sequence[int]) -> tuple[str, list[Any]]:
        """A condition that `column` is one of `values` (any number of them) and its parameters."""

    @abstractmethod
    def optimize(self) -> None:
        """Refresh the planner's statistics after many rows changed."""

    @abstractmethod
    def vacuum(self) -> None:
        """Give the space of deleted rows back."""

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A transaction inside the open one: a failure undoes only its own writes."""
        self.execute("SAVEPOINT inner_write")
        try:
            yield
        except BaseException:
            if self.in_transaction:
                self.execute("ROLLBACK TO SAVEPOINT inner_write")
                self.execute("RELEASE SAVEPOINT inner_write")
            raise
        self.execute("RELEASE SAVEPOINT inner_write")

    def insert(self, table: str, row: Mapping[str, Any]) -> int:
        """Insert one row; its id."""
        columns = ", ".join(row)
        marks = ", ".join("?" * len(row))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id"
        return int(self.execute(sql, [*row.values()]).fetchone()[0])

    def update(self, table: str, row_id: int, fields: Mapping[str, Any]) -> None:
        assignments = ", ".join(f"{column} = ?" for column in fields)
        self.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", [*fields.values(), row_id])


def open_connection(target: Path | str) -> Connection:
    """The database at `target`: a file path (SQLite) or a postgresql:// URL."""
    if isinstance(target, str) and target.startswith(POSTGRESQL_SCHEMES):
        from aggregator.store.postgresql import PostgreSQLConnection

        return PostgreSQLConnection(target)
    return SQLiteConnection(Path(target))


class SQLiteConnection(Connection):
    """A SQLite file in WAL mode with a busy timeout, so the CLI can write while the daemon does."""

    dialect = "sqlite"
    errors = (sqlite3.Error,)
    refused = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, sqlite3.ProgrammingError)

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)
        try:
            if path.parent and not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
            # One connection per Store; the daemon hands it from thread to thread but never uses it from two at once.
            self.conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            self.utils = sqlite_utils.Database(self.conn)
            self.conn.create_function("least", 2, _least, deterministic=True)
            self.conn.create_function("greatest", 2, _greatest, deterministic=True)
            self.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.utils.enable_wal()
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a crash of the process
            # loses nothing committed, a power cut at most the last commits (SQLite's advice for WAL).
            self.execute("PRAGMA synchronous = NORMAL")
            # Checkpoints every 40 MB of log instead of SQLite's 4 MB: a cold poll of 300 feeds
            # spent 28 s storing its items instead of 31 (fewer syncs, fewer pages copied twice).
            self.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            migrations.apply(self.utils)
            self._inode = path.stat().st_ino
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"The database {path} cannot be opened: {exc}.") from exc

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql, params or ())

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def named_rows(self, sql: str, params: Sequence[Any]) -> list[Mapping[str, Any]]:
        cursor = self.conn.cursor()
        cursor.row_factory = sqlite3.Row  # rows by column name, made in C: a poll loads 2,000 sources
        return cursor.execute(sql, params).fetchall()

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def begin(self) -> None:
        # IMMEDIATE takes the write lock up front, so a concurrent writer waits for the busy
        # timeout instead of failing half-way through.
        self.execute("BEGIN IMMEDIATE")

    def check(self) -> None:
        assert self.path is not None
        try:
            inode = self.path.stat().st_ino
        except OSError:
            raise StorageError(
                f"The database {self.path} was deleted; restart offthewire to create a new one."
            ) from None
        if inode != self._inode:
            raise StorageError(f"The database {self.path} was replaced; restart offthewire to use the new file.")
        try:
            self.execute("SELECT 1 FROM meta LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            raise StorageError(f"The database {self.path} does not answer: {exc}.") from exc

    def close(self) -> None:
        self.conn.close()

    def one_of(self, column: str, values: Sequence[int]) -> tuple[str, list[Any]]:
        # One JSON array, not a parameter each: SQLite allows at most 32,766 parameters.
        return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(list(values))]

    def optimize(self) -> None:
        self.execute("PRAGMA optimize")

    def vacuum(self) -> None:
        self.execute("VACUUM")


def _least(a: Any, b: Any) -> Any:
    return a if b is None or (a is not None and a <= b) else b


def _greatest(a: Any, b: Any) -> Any:
    return a if b is None or (a is not None and a >= b) else b
