"""The CLI and the daemon writing one database at once.

The daemon polls about thirty feeds on a 0.5 s tick (each source due again within 1.2 s) while,
round after round, several CLI commands run at the same moment: `add`, `remove`, `list`, `items`,
`poll ID`; feeds change between rounds so that both sides write. No command may fail with
"database is locked" (WAL plus a busy timeout is the contract), the daemon stays healthy, and at
the end the database is sound, holds nothing of a removed source, and every remaining source has
been polled with its latest entries. Some rounds remove a source while the daemon is fetching it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from conftest import RUN_TIMEOUT, Wire, cli_env, http_date, now_utc, rss
from daemon_helpers import Answer, HeaderServer, RunningDaemon, configure, free_port, wait_for
from feedserver import FeedServer

FEEDS = 30
ROUNDS = 12
RACE_EVERY = 4  # every fourth round removes a source while the daemon's fetch of it is in flight
RACE_DELAY = 4.0  # seconds the slow server takes to answer that fetch: longer than a loaded CLI run
RSS_TYPE = "application/rss+xml; charset=utf-8"


def entries(name: str, count: int, start: int = 0) -> list[tuple[Any, ...]]:
    now = now_utc()
    return [
        (
            f"urn:{name}:{n}",
            f"{name.title()} desk report {n}: council {name} approves harbour plan {n}",
            f"https://{name}.example/news/{n}",
            now - timedelta(minutes=count - n),
        )
        for n in range(start, start + count)
    ]


def keys_of(feed: list[tuple[Any, ...]]) -> set[str]:
    return {f"id:{entry[0]}" for entry in feed}


def start_all(wire: Wire, commands: list[list[str]]) -> list[tuple[list[str], subprocess.Popen[str]]]:
    return [
        (
            args,
            subprocess.Popen(
                wire.command(*args),
                cwd=wire.folder,
                env=cli_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for args in commands
    ]


def finish_all(running: list[tuple[list[str], subprocess.Popen[str]]]) -> list[tuple[list[str], int, str, str]]:
    """Wait for every command (bounded); a hung one is killed, and reported as failed."""
    results = []
    try:
        for args, process in running:
            out, err = process.communicate(timeout=RUN_TIMEOUT)
            results.append((args, process.returncode, out, err))
    finally:
        for _, process in running:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
    return results


def exceptions_in(log: str) -> list[str]:
    """Each distinct uncaught exception a log shows: its last frame in aggregator/ and its message."""
    found: dict[str, None] = {}
    for block in log.split("Traceback (most recent call last):")[1:]:
        lines = block.splitlines()
        frames = [line.strip() for line in lines if line.strip().startswith("File ") and "/aggregator/" in line]
        if not frames:
            continue  # the cause of a chained exception, or a library's own log: its effect is reported
        message = next((line for line in lines[1:] if line and not line.startswith((" ", "\t"))), "?")
        found[f"{message} (at {frames[-1] if frames else 'no aggregator frame'})"] = None
    return list(found)


def database_state(db_path: Path) -> dict[str, Any]:
    with closing(sqlite3.connect(db_path)) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchall()
        orphans = {
            "items of removed sources": db.execute(
                "SELECT COUNT(*) FROM items WHERE source_id NOT IN (SELECT id FROM sources)"
            ).fetchone()[0],
            "items without a story": db.execute(
                "SELECT COUNT(*) FROM items WHERE story_id NOT IN (SELECT id FROM stories)"
            ).fetchone()[0],
            "stories without an item": db.execute(
                "SELECT COUNT(*) FROM stories WHERE id NOT IN (SELECT story_id FROM items)"
            ).fetchone()[0],
            "topics of no item": db.execute(
                "SELECT COUNT(*) FROM item_topics WHERE item_id NOT IN (SELECT id FROM items)"
            ).fetchone()[0],
        }
        duplicates = db.execute(
            "SELECT source_id, key, COUNT(*) FROM items GROUP BY source_id, key HAVING COUNT(*) > 1"
        ).fetchall()
        rows = db.execute(
            "SELECT s.url, i.key FROM sources s JOIN items i ON i.source_id = s.id WHERE s.removed_at IS NULL"
        ).fetchall()
    keys: dict[str, set[str]] = {}
    for url, key in rows:
        keys.setdefault(url, set()).add(key)
    return {"integrity": integrity, "orphans": orphans, "duplicates": duplicates, "keys": keys}


def test_cli_and_daemon_write_at_once_without_lock_errors(wire: Wire, feed_server: FeedServer) -> None:
    started = time.monotonic()
    port = free_port()
    configure(wire, port, poll={"cap": 0.02, "per_host": 8, "timeout": 10})
    feeds: dict[str, list[tuple[Any, ...]]] = {}  # by path on the feed server
    paths: dict[str, str] = {}  # URL -> path
    originals: list[str] = []
    for n in range(FEEDS):
        feeds[f"/wire/{n}.xml"] = entries(f"wire{n}", 5)
        url = feed_server.serve(
            f"/wire/{n}.xml", rss(feeds[f"/wire/{n}.xml"]), etag=f'"wire{n}-0"', last_modified=http_date(now_utc())
        )
        originals.append(url)
        paths[url] = f"/wire/{n}.xml"
    opml = wire.folder / "wires.opml"
    outlines = "".join(f"<outline text={quoteattr(url)} xmlUrl={quoteattr(url)}/>" for url in originals)
    opml.write_text(f'<opml version="2.0"><head/><body>{outlines}</body></opml>', encoding="utf-8")
    assert wire.run("import-opml", str(opml)).returncode == 0
    ids = {url: source["id"] for url, source in wire.sources().items()}

    problems: list[str] = []
    extras: list[str] = []  # added by `add` in the rounds, in order
    removed: set[str] = set()
    raced = 0
    with HeaderServer() as slow, RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        wait_for(
            lambda: all(s["last_fetched_at"] for s in wire.sources().values()), 20, "the first poll of every source"
        )
        ready_seconds = time.monotonic() - started
        for round_number in range(ROUNDS):
            # One feed changes every round, so the daemon's polls (and `poll ID`) write too.
            path = f"/wire/{round_number % FEEDS}.xml"
            feeds[path] = feeds[path] + entries(f"update{round_number}", 1)
            feed_server.update(path, body=rss(feeds[path]), etag=f'"{path}-{round_number + 1}"')

            extra_path = f"/extra/{round_number}.xml"
            feeds[extra_path] = entries(f"extra{round_number}", 3)
            extra = feed_server.serve(extra_path, rss(feeds[extra_path]), etag=f'"extra-{round_number}"')
            extras.append(extra)
            paths[extra] = extra_path
            commands = [
                ["add", extra],
                ["list", "--json"] if round_number % 2 else ["items", "--json", "--limit", "50"],
                ["poll", str(ids[originals[(round_number * 7) % FEEDS]])],
            ]
            if round_number >= 2:
                commands.append(["remove", extras[round_number - 2]])
                removed.add(extras[round_number - 2])
            if round_number % RACE_EVERY == RACE_EVERY - 1:
                # Subscribe to a slow feed, wait until the daemon's fetch of it is in flight, then
                # remove it at the same time as the other commands run.
                doomed = slow.serve(
                    f"/doomed/{round_number}.xml",
                    Answer(200, rss(entries(f"doomed{round_number}", 3)), {"Content-Type": RSS_TYPE}, RACE_DELAY),
                )
                wire.add(doomed)
                wait_for(
                    lambda doomed_path=f"/doomed/{round_number}.xml": slow.requests_for(doomed_path),
                    10,
                    "the daemon to start fetching the slow feed",
                    interval=0.02,
                )
                commands.append(["remove", doomed])
                removed.add(doomed)
                raced += 1

            for args, code, _, err in finish_all(start_all(wire, commands)):
                if code != 0 or "database is locked" in err.lower() or "Traceback" in err:
                    problems.append(f"round {round_number}: {args} exited {code}: {err.strip()[-500:]}")
            health = daemon.health()
            assert health is not None and health.status == 200, f"/healthz failed in round {round_number}"
            assert daemon.alive(), daemon.log()
        loop_seconds = time.monotonic() - started - ready_seconds

        # Every remaining source is polled with its latest entries, by the daemon on its own.
        remaining = set(originals) | (set(extras) - removed)
        expected = {url: keys_of(feeds[paths[url]]) for url in remaining}

        def caught_up() -> bool:
            sources = wire.sources()
            if set(sources) != remaining:
                return False
            polled = all(s["last_fetched_at"] and s["last_error"] is None for s in sources.values())
            return polled and database_state(wire.db_path)["keys"] == expected

        try:
            wait_for(caught_up, 20, "every remaining source to be polled with its latest entries", interval=0.25)
        except AssertionError as exc:
            problems.append(str(exc))
        assert daemon.stop() == 0, daemon.log()
        log = daemon.log()
        if "database is locked" in log:
            problems.append("the daemon logged 'database is locked'")
        problems += [f"the daemon's tick raised: {error}" for error in exceptions_in(log)]

    state = database_state(wire.db_path)
    assert state["integrity"] == [("ok",)]
    if state["duplicates"]:
        problems.append(f"items stored twice: {state['duplicates']}")
    if any(state["orphans"].values()):
        problems.append(
            f"rows left of removed sources or stories: {state['orphans']} "
            f"({raced} removals raced the daemon's fetch of the removed source)"
        )
    if state["keys"] != expected:
        problems.append("the stored items are not the latest entries of the remaining sources")
    assert not problems, "\n".join(problems)
    print(
        f"\nsetup {ready_seconds:.1f} s; {ROUNDS} rounds of 3-5 concurrent CLI commands against the polling "
        f"daemon in {loop_seconds:.1f} s ({raced} removals raced a fetch); total {time.monotonic() - started:.1f} s"
    )
