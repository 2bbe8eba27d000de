"""Storing while fetching: one thread stores each fetched feed as soon as it is ready (fetched, and
parsed when the process pool parses it), while the event loop goes on fetching and the pool parsing.

Before, a poll stored nothing until every feed was fetched and parsed, so the main process sat
idle while the pool parsed and the pool sat idle while the main process matched and wrote. SQLite
is written from this thread alone while it runs (the connection is never used from two threads at
once); feeds that are ready together are committed together (`Store.batch`), and the write lock is
not held while the thread waits for the next one.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from aggregator.store import Store

Job = TypeVar("Job")
Outcome = TypeVar("Outcome")
Stored = Callable[[], None]


class StoreWriter(Generic[Job, Outcome]):
    """A thread that runs `store_one(job)` for each job `put`, in the order they were put."""

    def __init__(self, store: Store, store_one: Callable[[Job], Outcome]) -> None:
        self._store = store
        self._store_one = store_one
        self._jobs: queue.SimpleQueue[tuple[Job, Stored | None] | None] = queue.SimpleQueue()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="offthewire-store")
        self._done = self._thread.submit(self._run)

    def put(self, job: Job, stored: Stored | None = None) -> None:
        """Store `job` once the jobs put before it are stored, then call `stored` (which is called
        even when storing failed, so nobody waits for it forever). Callable from any thread."""
        self._jobs.put((job, stored))

    def finish(self) -> list[Outcome]:
        """Wait for every job put so far; their outcomes in order. Raises what storing raised."""
        self._jobs.put(None)
        try:
            return self._done.result()
        finally:
            self._thread.shutdown(wait=True)

    def _run(self) -> list[Outcome]:
        outcomes: list[Outcome] = []
        failure: BaseException | None = None
        while True:
            ready = [self._jobs.get()]
            while not self._jobs.empty():
                ready.append(self._jobs.get())
            jobs = [job for job in ready if job is not None]
            try:
                if jobs and failure is None:
                    with self._store.batch() as checkpoint:
                        for job, _ in jobs:
                            outcomes.append(self._store_one(job))
                            checkpoint()
            except BaseException as exc:  # kept for finish(); the jobs after it are not stored
                failure = exc
            finally:
                for _, stored in jobs:
                    if stored:
                        stored()
            if None in ready:
                if failure:
                    raise failure
                return outcomes
