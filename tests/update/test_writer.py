"""The store writer: jobs stored in order on one thread, feeds ready together committed together,
and a failure that stops storing never leaves anybody waiting for a job."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aggregator.exceptions import StorageError
from aggregator.store import Store
from aggregator.update.writer import StoreWriter


def test_jobs_are_stored_in_order_on_one_thread(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    threads: set[int] = set()

    def store_one(n: int) -> int:
        threads.add(threading.get_ident())
        store.set_meta(f"job-{n}", str(n))
        return n * 10

    writer: StoreWriter[int, int] = StoreWriter(store, store_one)
    called: list[int] = []
    for n in range(20):
        writer.put(n, lambda n=n: called.append(n))
    assert writer.finish() == [n * 10 for n in range(20)]
    assert called == list(range(20))
    assert len(threads) == 1 and threading.get_ident() not in threads
    assert [store.meta(f"job-{n}") for n in range(20)] == [str(n) for n in range(20)]
    store.close()


def test_nothing_is_held_open_between_jobs(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    writer: StoreWriter[int, None] = StoreWriter(store, lambda n: store.set_meta("last", str(n)))
    stored = threading.Event()
    writer.put(1, stored.set)
    assert stored.wait(10)
    # Another writer gets the lock while this one waits for its next job.
    other = Store(tmp_path / "t.db")
    other.set_meta("other", "yes")
    other.close()
    writer.put(2)
    writer.finish()
    assert store.meta("last") == "2" and store.meta("other") == "yes"
    store.close()


def test_a_failure_is_raised_by_finish_and_every_waiter_is_released(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")

    def store_one(n: int) -> int:
        if n == 3:
            raise StorageError("The database is full.")
        store.set_meta(f"job-{n}", "stored")
        return n

    writer: StoreWriter[int, int] = StoreWriter(store, store_one)
    released = []
    for n in range(6):
        writer.put(n, lambda n=n: released.append(n))
    with pytest.raises(StorageError, match="full"):
        writer.finish()
    assert sorted(released) == list(range(6))
    assert store.optional_meta("job-5") is None  # nothing after the failure is stored
    store.close()
