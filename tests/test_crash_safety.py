"""Crash safety: `kill -9` the daemon in the middle of a big poll, then check what it left behind.

One loopback server serves many feeds (slow-ish answers, so the poll takes seconds). For each kill
moment (a bounded list) a fresh installation subscribes to every feed, starts `offthewire run`,
waits until the poll reaches that moment (watched in the SQLite file, read-only), and SIGKILLs it.
Then: the database passes `PRAGMA integrity_check` and holds no half-stored poll; every output
file is complete Atom (files are written to a temporary name and renamed), and nothing servable
is left half-written; `offthewire poll --all` completes the job with every entry of every feed
stored exactly once.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from conftest import Wire, http_date, now_utc, poll_counts, rss
from daemon_helpers import RunningDaemon, configure, free_port, wait_for
from feedserver import FeedServer
from lxml import etree

FEEDS = 150
ENTRIES = 16  # per feed: 2,400 items, a poll of several seconds on a slow machine
DELAY = 0.05  # seconds per answer; 8 at a time to one host: about a second of fetching
ATOM = "{http://www.w3.org/2005/Atom}"
ATOM_SCHEMA = etree.RelaxNG(etree.parse(str(Path(__file__).parent / "data" / "atom.rng")))
# Kill moments, by how many sources have items committed; later rounds are skipped when the
# test has used its time budget (a slow machine still runs the first two).
KILL_AT: list[tuple[str, Callable[[int], bool]]] = [
    ("just after the first source was stored", lambda stored: stored >= 1),
    ("with about half of the sources stored", lambda stored: stored >= FEEDS // 2),
    ("once every source was stored (publishing)", lambda stored: stored >= FEEDS),
]
MIN_ROUNDS = 2
TIME_BUDGET = 24.0  # seconds; no new round starts after this


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 9)))


def feed_entries(feed: int, rng: random.Random) -> list[tuple[Any, ...]]:
    """Distinct made-up headlines (no two feeds carry one story), published over the last hours."""
    now = now_utc()
    return [
        (
            f"urn:feed{feed}:entry{n}",
            " ".join(_word(rng) for _ in range(7)).capitalize(),
            f"https://outlet{feed}.example/news/{n}",
            now - timedelta(minutes=5 * n + feed),
            f"<p>{' '.join(_word(rng) for _ in range(12))}</p>",
        )
        for n in range(ENTRIES)
    ]


def write_opml(path: Path, urls: list[str]) -> None:
    outlines = "".join(
        f"<outline text={quoteattr(f'Feed {n}')} xmlUrl={quoteattr(url)}/>" for n, url in enumerate(urls)
    )
    path.write_text(f'<opml version="2.0"><head/><body>{outlines}</body></opml>', encoding="utf-8")


def sources_stored(db_path: Path) -> int:
    """How many sources have items committed, read without writing anything (mode=ro)."""
    try:
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)) as db:
            return int(db.execute("SELECT COUNT(DISTINCT source_id) FROM items").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created yet, or the schema is being migrated


def check_database(db_path: Path) -> int:
    """integrity_check, and no half-stored poll: every row points at what it belongs to. Returns the item count."""
    # Read-write, as the next offthewire run opens it: the WAL the kill left is recovered first.
    with closing(sqlite3.connect(db_path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        orphans = {
            "items without a story": "SELECT COUNT(*) FROM items WHERE story_id NOT IN (SELECT id FROM stories)",
            "items without a source": "SELECT COUNT(*) FROM items WHERE source_id NOT IN (SELECT id FROM sources)",
            "stories without an item": "SELECT COUNT(*) FROM stories WHERE id NOT IN (SELECT story_id FROM items)",
            "topics of no item": "SELECT COUNT(*) FROM item_topics WHERE item_id NOT IN (SELECT id FROM items)",
        }
        found = {what: db.execute(sql).fetchone()[0] for what, sql in orphans.items()}
        assert not any(found.values()), found
        duplicated = db.execute(
            "SELECT source_id, key, COUNT(*) FROM items GROUP BY source_id, key HAVING COUNT(*) > 1"
        ).fetchall()
        assert not duplicated, duplicated
        return int(db.execute("SELECT COUNT(*) FROM items").fetchone()[0])


def check_outputs(public: Path) -> list[str]:
    """Every file a reader can be served is complete (valid Atom, well-formed RSS, whole JSON);
    returns the leftover temporary files."""
    leftovers = []
    for path in sorted(p for p in public.rglob("*") if p.is_file()):
        if path.name.startswith("."):
            # A temporary file the kill interrupted: never served (the server names its files),
            # and never mistaken for a feed.
            assert not path.name.endswith((".atom", ".rss", ".json")), path
            leftovers.append(str(path.relative_to(public)))
            continue
        assert path.suffix in (".atom", ".rss", ".json"), f"unexpected file in the output folder: {path}"
        if path.suffix == ".json":
            json.loads(path.read_bytes())  # raises on a truncated file
            continue
        document = etree.fromstring(path.read_bytes())  # raises on a truncated or mixed file
        if path.suffix == ".rss":
            assert document.tag == "rss", path
            continue
        assert document.tag == f"{ATOM}feed", path
        ATOM_SCHEMA.assertValid(document)
    assert (public / "off-the-wire.atom").is_file(), "the merged feed is missing"
    return leftovers


def stored_keys(db_path: Path) -> dict[str, set[str]]:
    with closing(sqlite3.connect(db_path)) as db:
        rows = db.execute("SELECT s.url, i.key FROM items i JOIN sources s ON s.id = i.source_id").fetchall()
    keys: dict[str, set[str]] = {}
    for url, key in rows:
        keys.setdefault(url, set()).add(key)
    return keys


def run_and_kill(wire: Wire, port: int, reached: Callable[[int], bool], moment: str) -> int:
    """Start the daemon, SIGKILL it when `reached(sources with items)`; returns that number."""
    with RunningDaemon(wire, port) as daemon:

        def moment_reached() -> int | bool | None:
            stored = sources_stored(wire.db_path)
            return stored if reached(stored) else not daemon.alive()

        stored = wait_for(moment_reached, 40, f"the daemon's poll to get to the moment {moment}", interval=0.02)
        assert daemon.alive(), f"the daemon exited on its own:\n{daemon.log()}"
        assert daemon.process is not None
        daemon.process.kill()  # SIGKILL: no handler, no cleanup
        daemon.process.wait(timeout=10)
        assert "Traceback" not in daemon.log(), daemon.log()
    return int(stored)


def test_kill_9_mid_poll_leaves_a_consistent_database_and_complete_outputs(tmp_path: Path) -> None:
    rng = random.Random(20261128)
    started = time.monotonic()
    with FeedServer() as server:
        expected: dict[str, set[str]] = {}
        for feed in range(FEEDS):
            entries = feed_entries(feed, rng)
            url = server.serve(
                f"/wire/{feed}.xml",
                rss(entries, title=f"Wire {feed}", link=f"https://outlet{feed}.example/"),
                etag=f'"wire-{feed}"',
                last_modified=http_date(now_utc()),
                delay=DELAY,
            )
            expected[url] = {f"id:{entry[0]}" for entry in entries}
        opml = tmp_path / "wires.opml"
        write_opml(opml, list(expected))

        for round_number, (moment, reached) in enumerate(KILL_AT):
            elapsed = time.monotonic() - started
            if round_number >= MIN_ROUNDS and elapsed > TIME_BUDGET:
                print(f"\nskipped the kill {moment}: {elapsed:.1f} s used of a {TIME_BUDGET:g} s budget")
                continue
            folder = tmp_path / f"round-{round_number}"
            folder.mkdir()
            wire = Wire(folder)
            port = free_port()
            configure(wire, port, poll={"per_host": 8, "timeout": 10})
            assert wire.run("import-opml", str(opml)).returncode == 0

            stored = run_and_kill(wire, port, reached, moment)

            # What the kill left: a sound database, whole feeds.
            survived = check_database(wire.db_path)
            leftovers = check_outputs(wire.public)
            at_kill = len(etree.fromstring((wire.public / "off-the-wire.atom").read_bytes()).findall(f"{ATOM}entry"))
            keys = stored_keys(wire.db_path)
            # Every source's items were committed in one transaction: all of its entries, or none.
            partial = {url: len(found) for url, found in keys.items() if found != expected[url]}
            assert not partial, f"sources stored only in part: {partial}"

            # The next poll finishes the job, storing each entry exactly once.
            result = wire.run("poll", "--all")
            assert "database is locked" not in result.stderr
            counts = poll_counts(result)
            assert counts["failed"] == 0, result.stdout
            assert counts["new"] == FEEDS * ENTRIES - survived, (counts, survived)
            total = check_database(wire.db_path)
            assert total == FEEDS * ENTRIES
            assert stored_keys(wire.db_path) == expected
            check_outputs(wire.public)
            merged = etree.fromstring((wire.public / "off-the-wire.atom").read_bytes())
            assert len(merged.findall(f"{ATOM}entry")) == 100  # [output] limit
            print(
                f"\nkill -9 {moment}: {stored}/{FEEDS} sources had items at the kill, "
                f"{survived} items survived, poll --all added {counts['new']}; "
                f"merged feed had {at_kill} entries at the kill; leftover temporary files: {leftovers or 'none'} "
                f"({time.monotonic() - started:.1f} s)"
            )
