"""A poll of many sources parses and prepares in the process pool; what it stores is exactly what
a poll that works inline stores, and a worker that dies costs nothing but time (archive pages
the pool was to render are rendered in the main process). A poll bringing more new items than it
holds at once stores them in batches while it goes on fetching, and stores every one of them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Wire, cli_env, minutes_ago, rss
from feedserver import FeedServer

import aggregator.update.batches
import aggregator.update.pipeline
from aggregator.config import OutputSettings, PollSettings, Settings, StorageSettings
from aggregator.core import Aggregator, make_aggregator
from aggregator.exceptions import StorageError
from aggregator.publish import MERGED_FEED_FILE, MERGED_FEED_PATH, FeedContext, FeedSpec, Paging, render_atom
from aggregator.store import Store
from aggregator.types import StoredItem, Topic

FEEDS = 12
SLOW_SECONDS = 4.0


PLACES = ["Valmora", "Ostrava", "Quito", "Dunmore", "Kessel", "Arlon", "Tarvis", "Lindau", "Morvan", "Ebro",
          "Nantes", "Kolding"]  # fmt: skip
EVENTS = ["marathon closes bridge", "oil depot fire", "council vote on tram", "school strike enters week",
          "harbour dredging starts", "museum reopens wing"]  # fmt: skip


def desk(n: int) -> bytes:
    reports = [
        (f"urn:{n}:{i}", f"{PLACES[n]} {EVENTS[i]} as {PLACES[(n + i + 1) % FEEDS]} waits", f"https://d{n}.example/{i}",
         minutes_ago(10 * i + n), f"<p>Report {i} of desk {n}, <b>with</b> oil prices.</p>")
        for i in range(len(EVENTS))
    ]  # fmt: skip
    shared = (f"urn:shared:{n}", "Ferry strike halts crossings", "https://wire.example/ferry-strike", minutes_ago(70))
    return rss([*reports, shared])


def install(folder: Path, urls: list[str]) -> Aggregator:
    settings = Settings(
        storage=StorageSettings(folder / "t.db"),
        output=OutputSettings(dir=folder / "public"),
        poll=PollSettings(timeout=10),
        topics=(Topic("sports", "Sports", keywords=("marathon",)), Topic("energy", "Energy", keywords=("oil",))),
    )
    aggregator = make_aggregator(settings)
    for url in urls:
        aggregator.add_source(url)
    return aggregator


def stored(aggregator: Aggregator) -> list[tuple[Any, ...]]:
    """Every item with its topics and the reports of its story, each named by (source, headline):
    feeds are stored in the order they are ready, so row ids may differ between two polls."""
    items = aggregator.store.items(limit=1000)
    stories = {s.id: tuple(sorted((r.source_id, r.title) for r in s.reports)) for s in aggregator.stories(limit=1000)}
    return sorted((i.source_id, i.title, i.summary, i.topics, stories[i.story_id]) for i in items)


@pytest.fixture
def urls(feed_server: FeedServer) -> list[str]:
    return [feed_server.serve(f"/d{n}.xml", desk(n)) for n in range(FEEDS)]


def test_the_pool_stores_what_inline_parsing_stores(
    urls: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with install(tmp_path / "pool", urls) as pooled:
        summary = pooled.poll()
        assert pooled._parsers is not None and pooled._parsers._executor is not None  # the pool did the work
        pool_result = stored(pooled)
    monkeypatch.setattr(aggregator.update.pipeline, "PARALLEL_PARSE_MIN_SOURCES", FEEDS + 1)
    with install(tmp_path / "inline", urls) as inline:
        inline.poll()
        assert inline._parsers is None
        assert stored(inline) == pool_result
    assert sum(o.new for o in summary.outcomes) == FEEDS * 7
    assert [len(story) for story in {story for *_, story in pool_result} if len(story) > 2] == [FEEDS]  # the ferry


def test_a_poll_bringing_more_than_it_holds_stores_in_batches_while_fetching(
    urls: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aggregator.update.batches, "HELD_ITEMS", 10)  # a batch every two feeds or so
    with install(tmp_path / "batched", urls) as batched:
        batches: list[int] = []
        store_bodies = batched.pipeline._store_bodies

        def counted(bodies: Any) -> Any:
            batches.append(len(bodies))
            return store_bodies(bodies)

        monkeypatch.setattr(batched.pipeline, "_store_bodies", counted)
        summary = batched.poll()
        batched_result = stored(batched)
    assert len(batches) > 2 and sum(batches) == FEEDS
    assert not [o.error for o in summary.outcomes if o.error]
    assert sum(o.new for o in summary.outcomes) == FEEDS * 7
    assert [len(story) for story in {story for *_, story in batched_result} if len(story) > 2] == [FEEDS]  # the ferry


def test_a_worker_that_dies_costs_only_time(urls: list[str], tmp_path: Path) -> None:
    with install(tmp_path / "pool", urls) as pooled:
        pool = pooled._parser_pool()
        executor = pool._start()
        executor.submit(os.getpid).result(timeout=30)  # the workers are up
        for pid in list(executor._processes):
            os.kill(pid, signal.SIGKILL)
        # Bounded: replacing the broken pool once waited forever on a worker it started as it broke.
        polled: list[Any] = []
        polling = threading.Thread(target=lambda: polled.append(pooled.poll()), daemon=True)
        polling.start()
        polling.join(timeout=120)
        assert polled, "the poll did not end after its parser processes were killed"
        [summary] = polled
        assert not [o.error for o in summary.outcomes if o.error]
        assert sum(o.new for o in summary.outcomes) == FEEDS * 7
        pooled.store.check()
        second = pooled.poll(every_source=True)  # a new pool serves the next poll
        assert all(o.not_modified for o in second.outcomes)


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (its children, theirs, ...), from /proc."""
    found: set[int] = set()
    waiting = [pid]
    while waiting and len(found) < 100:
        for task in Path(f"/proc/{waiting.pop()}/task").glob("*"):
            with contextlib.suppress(OSError):
                children = {int(child) for child in (task / "children").read_text().split()}
                waiting += children - found
                found |= children
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (zombies are not)."""
    running = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            if (Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split() or ["Z"])[0] != "Z":
                running.add(pid)
    return running


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from Linux's /proc")
def test_a_poll_killed_mid_way_leaves_no_parser_process_behind(wire: Wire, feed_server: FeedServer) -> None:
    fast = [feed_server.serve(f"/fast{n}.xml", desk(n)) for n in range(FEEDS - 1)]
    slow = feed_server.serve("/slow.xml", desk(FEEDS - 1), delay=SLOW_SECONDS * 5)
    wire.configure(poll={"timeout": SLOW_SECONDS * 10})
    wire.add_many(*fast, slow)
    poll = subprocess.Popen(wire.command("poll"), cwd=wire.folder, env=cli_env(), stdout=subprocess.DEVNULL)
    try:
        # The fork server and a worker at least, started for the fast feeds' bodies.
        deadline = time.monotonic() + SLOW_SECONDS * 4
        pool = descendants(poll.pid)
        while len(pool) < 2 and time.monotonic() < deadline and poll.poll() is None:
            time.sleep(0.05)
            pool = descendants(poll.pid)
        assert len(pool) >= 2 and poll.poll() is None, f"no parser processes while the poll ran: {pool}"
    finally:
        poll.kill()  # SIGKILL: the pool is never shut down
        poll.wait(timeout=10)
    deadline = time.monotonic() + 10
    while alive(pool) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = alive(pool)
    for pid in left:  # do not leave them to the next test either
        os.kill(pid, signal.SIGKILL)
    assert not left, f"parser processes outlived the poll that started them: {sorted(left)}"


def test_a_second_poll_prepares_only_new_and_rewritten_entries(
    urls: list[str], feed_server: FeedServer, tmp_path: Path
) -> None:
    with install(tmp_path / "pool", urls) as pooled:
        pooled.poll()
        reports = [
            (f"urn:0:{i}", f"Valmora report {i} rewritten", f"https://d0.example/{i}", minutes_ago(10 * i))
            for i in range(2)
        ]
        feed_server.update(
            "/d0.xml", body=rss([*reports, ("urn:0:new", "Valmora ferry resumes", None, minutes_ago(1))])
        )
        summary = pooled.poll(every_source=True)
        counts = {o.url: (o.new, o.updated) for o in summary.outcomes}
        assert counts[urls[0]] == (1, 2)
        assert all(counts[url] == (0, 0) for url in urls[1:])
        titles = {item.title for item in pooled.store.items(limit=1000)}
        assert {"Valmora report 0 rewritten", "Valmora report 1 rewritten", "Valmora ferry resumes"} <= titles
        assert sum(1 for item in pooled.store.items(limit=1000) if item.source_id == 1) == 8  # none lost


def disk_full_at(call: int) -> Callable[..., dict[str, StoredItem]]:
    """`Store.stored_items` failing as a full disk does at its `call`th call, and working otherwise."""
    save = Store.stored_items
    calls = 0

    def stored_items(store: Store, *args: Any, **kwargs: Any) -> dict[str, StoredItem]:
        nonlocal calls
        calls += 1
        if calls == call:
            raise StorageError("The database disk is full.")
        return save(store, *args, **kwargs)

    return stored_items


def test_a_poll_whose_storing_fails_loses_nothing_the_next_poll_can_store(
    urls: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with install(tmp_path / "pool", urls) as pooled:
        with monkeypatch.context() as failing:
            failing.setattr(Store, "stored_items", disk_full_at(FEEDS))
            with pytest.raises(StorageError, match="full"):
                pooled.poll()
        # The failed batch was rolled back, so nothing it stored may be taken as stored.
        assert pooled.pipeline._stored_versions == {}
        pooled.poll(every_source=True)
        assert len(pooled.store.items(limit=1000)) == FEEDS * 7


def test_a_batch_whose_storing_fails_ends_the_poll_with_the_error_and_loses_nothing(
    urls: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aggregator.update.batches, "HELD_ITEMS", 10)
    with install(tmp_path / "pool", urls) as pooled:
        polled: list[Any] = []

        def poll() -> None:
            with pytest.raises(StorageError, match="full"):
                pooled.poll()
            polled.append(True)

        with monkeypatch.context() as failing:
            # The second call is in the first batch, stored in its thread while fetching goes on.
            failing.setattr(Store, "stored_items", disk_full_at(2))
            polling = threading.Thread(target=poll, daemon=True)
            polling.start()
            polling.join(timeout=120)
        assert polled, "the poll did not end after a batch failed"
        pooled.poll(every_source=True)
        assert len(pooled.store.items(limit=1000)) == FEEDS * 7


def test_archive_pages_are_rendered_here_when_the_workers_died(urls: list[str], tmp_path: Path) -> None:
    with install(tmp_path / "pool", urls) as pooled:
        pooled.poll(publish=False)
        stories = pooled.store.latest_stories(None, 6)
        context = FeedContext(pooled.store.meta("install_id"), "http://127.0.0.1/", {}, minutes_ago(0))
        spec = FeedSpec(MERGED_FEED_PATH, MERGED_FEED_FILE, "Off the wire", "Every wire")
        pages = [(spec, stories[n : n + 2], context, Paging(archive_self=f"http://127.0.0.1/{n}")) for n in (0, 2, 4)]
        expected = [render_atom(*page) for page in pages]
        pool = pooled._parser_pool()
        executor = pool._start()
        executor.submit(os.getpid).result(timeout=30)  # the workers are up
        for pid in list(executor._processes):
            os.kill(pid, signal.SIGKILL)
        assert pool.render_atom_pages(pages) == expected  # rendered in this process instead
        assert pool.render_atom_pages(pages) == expected  # and a new pool renders the next ones
        assert pool._executor is not None
