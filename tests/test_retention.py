"""Retention: `prune` drops old items (each source keeps its newest), leaves tombstones so an old
item still in its feed is not imported again, and the feeds follow."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from typing import Any

from conftest import Wire, minutes_ago, rss
from feedserver import FeedServer

DAY = 24 * 60


def entries(prefix: str, ages_in_days: list[int]) -> list[tuple[Any, ...]]:
    return [
        (
            f"urn:{prefix}:{n}",
            f"{prefix.title()} desk files story {n} on quiet affairs",
            f"https://{prefix}.example/{n}",
            minutes_ago(age * DAY + 1),
        )
        for n, age in enumerate(ages_in_days)
    ]


def titles(wire: Wire) -> set[str]:
    return {item["title"] for item in json.loads(wire.run("items", "--json", "--limit", "500").stdout)}


def test_prune_keeps_the_recent_and_each_sources_newest_and_never_reimports(
    wire: Wire, feed_server: FeedServer
) -> None:
    wire.configure()
    with wire.config.open("a", encoding="utf-8") as handle:
        handle.write("\n[retention]\ndays = 10\nkeep_per_source = 2\n")
    old_wire = entries("ancient", [40, 35, 30, 25])  # all old: the newest 2 stay
    mixed = entries("mixed", [1, 2, 20, 30])  # two recent stay, two old go
    urls = [feed_server.serve("/ancient.xml", rss(old_wire)), feed_server.serve("/mixed.xml", rss(mixed))]
    for url in urls:
        wire.add(url)
    assert wire.run("poll").returncode == 0
    assert len(titles(wire)) == 8

    result = wire.run("prune")

    assert result.returncode == 0, result.stderr
    assert "Pruned 4 items" in result.stdout
    kept = {old_wire[2][1], old_wire[3][1], mixed[0][1], mixed[1][1]}  # the newest two of each
    assert titles(wire) == kept
    feed = (wire.public / "off-the-wire.atom").read_text(encoding="utf-8")
    assert old_wire[0][1] not in feed
    assert mixed[0][1] in feed

    # The feeds still carry the pruned entries, beside a new one: the new one comes, the pruned stay gone.
    fresh = entries("fresh", [0])
    feed_server.update("/ancient.xml", body=rss(old_wire + fresh))
    feed_server.update(
        "/mixed.xml", body=rss([*mixed, ("urn:mixed:new", "Mixed desk adds a new note", None, minutes_ago(1))])
    )
    repoll = wire.run("poll", "--all")
    assert repoll.returncode == 0, repoll.stderr
    assert titles(wire) == kept | {fresh[0][1], "Mixed desk adds a new note"}
    with closing(sqlite3.connect(wire.db_path)) as db:
        assert db.execute("SELECT COUNT(*) FROM tombstones").fetchone()[0] == 4
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = db.execute("SELECT COUNT(*) FROM stories WHERE id NOT IN (SELECT story_id FROM items)")
        assert orphans.fetchone()[0] == 0


def test_prune_with_nothing_old_changes_nothing(wire: Wire, feed_server: FeedServer) -> None:
    wire.add(feed_server.serve("/fresh.xml", rss(entries("fresh", [0, 1]))))
    assert wire.run("poll").returncode == 0
    before = (wire.public / "off-the-wire.atom").stat()

    result = wire.run("prune")

    assert "Pruned 0 items older than 30 days" in result.stdout
    assert (wire.public / "off-the-wire.atom").stat().st_mtime_ns == before.st_mtime_ns
    assert len(titles(wire)) == 2
