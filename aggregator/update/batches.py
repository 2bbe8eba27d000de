"""The new bodies of one poll held for storing, and stored in batches when they bring many items.

A poll matches the new items of all its feeds together, in the canonical order, after its
fetches (update/storing.py). A poll bringing more than HELD_ITEMS new items (a first poll of
hundreds of feeds) would hold them all in memory until then; instead its bodies are stored a batch
at a time, in a thread of their own, while fetching goes on, and while a batch is stored the
fetches of new bodies keep their place, so fetching pauses instead of piling bodies up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, Protocol, TypeVar

from aggregator.types import UpdateOutcome

# New items a poll holds for matching at once (about 16 KB each with its prepared headline; one
# batch is stored while the next is gathered). A poll bringing more stores them in batches of
# about this many, each matched in the canonical order: the stories of such a poll can depend on
# which batch an item fell in; those of later polls cannot (a tenth of 2,000 feeds changed brings
# about 900).
HELD_ITEMS = 4_000


class HeldBody(Protocol):
    """A body held for storing: how many new items it brings, once prepared."""

    @property
    def new_items(self) -> int: ...


Body = TypeVar("Body", bound=HeldBody)


class Batches(Generic[Body]):
    """The bodies a poll holds for storing, stored as a batch in a thread of their own once they
    bring HELD_ITEMS new items; while a batch is stored, the fetches of new bodies keep their place
    (their `settled` futures wait), so fetching pauses instead of piling bodies up."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        held: list[Body],
        stored: dict[int, UpdateOutcome],
        store_bodies: Callable[[Sequence[Body]], dict[int, UpdateOutcome]],
    ) -> None:
        self.loop, self.held, self.stored, self.store_bodies = loop, held, stored, store_bodies
        self.items = 0
        self.running: asyncio.Future[dict[int, UpdateOutcome]] | None = None
        self.waiting: list[asyncio.Future[None]] = []
        self.failure: BaseException | None = None
        self.thread: ThreadPoolExecutor | None = None

    def hold(self, body: Body, settled: asyncio.Future[None] | None = None) -> None:
        self.held.append(body)
        self.items += body.new_items
        if self.items >= HELD_ITEMS and self.failure is None:
            if self.running is None:
                self._start()
            elif settled is not None:
                self.waiting.append(settled)  # released when the running batch is stored
                return
        if settled is not None and not settled.done():
            settled.set_result(None)

    def _start(self) -> None:
        batch = list(self.held)
        self.held.clear()
        self.items = 0
        self.thread = self.thread or ThreadPoolExecutor(1, thread_name_prefix="offthewire-store")
        self.running = self.loop.run_in_executor(self.thread, self.store_bodies, batch)
        self.running.add_done_callback(self._stored)

    def _stored(self, future: asyncio.Future[dict[int, UpdateOutcome]]) -> None:
        self.running = None
        if future.cancelled() or future.exception() is not None:
            self.failure = future.exception() if not future.cancelled() else asyncio.CancelledError()
        else:
            self.stored.update(future.result())
        for settled in self.waiting:
            if not settled.done():
                settled.set_result(None)
        self.waiting.clear()
        if self.items >= HELD_ITEMS and self.failure is None:
            self._start()

    async def finish(self) -> None:
        """Wait for the batch being stored; raise what storing a batch raised."""
        try:
            while self.running is not None:
                await asyncio.wait([self.running])
        finally:
            if self.thread:
                self.thread.shutdown(wait=True)
        if self.failure is not None:
            raise self.failure
