"""Retention: `prune` drops old items (each source keeps its newest), leaves tombstones so an old
item still in its feed is not imported again, and the feeds follow."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import Wire, now_utc, rss
from fakes import FakeClock, FakeFetcher, aggregator_for

from aggregator.core import Aggregator

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ANCIENT = "https://ancient.example/feed"
MIXED = "https://mixed.example/feed"
FRESH = "https://fresh.example/feed"


def entries(prefix: str, ages_in_days: list[int], now: datetime = T0) -> list[tuple[Any, ...]]:
    return [
        (
            f"urn:{prefix}:{n}",
            f"{prefix.title()} desk files story {n} on quiet affairs",
            f"https://{prefix}.example/{n}",
            now - timedelta(days=age, minutes=1),
        )
        for n, age in enumerate(ages_in_days)
    ]


def titles(aggregator: Aggregator) -> set[str]:
    return {item.title for item in aggregator.items(limit=500)}


def keep_two_of_ten_days(wire: Wire) -> None:
    with wire.config.open("a", encoding="utf-8") as handle:
        handle.write("\n[retention]\ndays = 10\nkeep_per_source = 2\n")


def polled(wire: Wire, feeds: dict[str, bytes]) -> None:
    """Subscribe to `feeds` and poll them once, directly, at the wall clock's time (the CLI's)."""
    fetcher = FakeFetcher()
    fetcher.documents.update(feeds)
    with aggregator_for(wire.config, fetcher=fetcher) as aggregator:
        for url in feeds:
            aggregator.add_source(url)
        aggregator.poll()
        assert all(source.last_error is None for source in aggregator.sources())


def test_prune_keeps_the_recent_and_each_sources_newest_and_never_reimports(wire: Wire) -> None:
    keep_two_of_ten_days(wire)
    old_wire = entries("ancient", [40, 35, 30, 25])  # all old: the newest 2 stay
    mixed = entries("mixed", [1, 2, 20, 30])  # two recent stay, two old go
    clock, fetcher = FakeClock(T0), FakeFetcher()
    fetcher.documents.update({ANCIENT: rss(old_wire), MIXED: rss(mixed)})
    with aggregator_for(wire.config, clock, fetcher) as aggregator:
        aggregator.add_source(ANCIENT)
        aggregator.add_source(MIXED)
        aggregator.poll()
        assert len(titles(aggregator)) == 8
        clock.advance(minutes=1)

        assert aggregator.prune(vacuum=True) == 4

        kept = {old_wire[2][1], old_wire[3][1], mixed[0][1], mixed[1][1]}  # the newest two of each
        assert titles(aggregator) == kept
        feed = (wire.public / "off-the-wire.atom").read_text(encoding="utf-8")
        assert old_wire[0][1] not in feed
        assert mixed[0][1] in feed

        # The feeds still carry the pruned entries, beside a new one: the new one comes, the pruned stay gone.
        clock.advance(minutes=1)
        fresh = entries("fresh", [0], clock.now)
        fetcher.documents[ANCIENT] = rss(old_wire + fresh)
        fetcher.documents[MIXED] = rss(
            [*mixed, ("urn:mixed:new", "Mixed desk adds a new note", None, clock.now - timedelta(minutes=1))]
        )
        aggregator.poll(every_source=True)
        assert all(source.last_error is None for source in aggregator.sources())
        assert titles(aggregator) == kept | {fresh[0][1], "Mixed desk adds a new note"}
    with closing(sqlite3.connect(wire.db_path)) as db:
        assert db.execute("SELECT COUNT(*) FROM tombstones").fetchone()[0] == 4
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = db.execute("SELECT COUNT(*) FROM stories WHERE id NOT IN (SELECT story_id FROM items)")
        assert orphans.fetchone()[0] == 0


def test_prune_with_nothing_old_changes_nothing(wire: Wire) -> None:
    clock, fetcher = FakeClock(T0), FakeFetcher()
    fetcher.documents[FRESH] = rss(entries("fresh", [0, 1]))
    with aggregator_for(wire.config, clock, fetcher) as aggregator:
        aggregator.add_source(FRESH)
        aggregator.poll()
        before = (wire.public / "off-the-wire.atom").stat()
        clock.advance(minutes=1)

        assert aggregator.prune(vacuum=True) == 0

        assert (wire.public / "off-the-wire.atom").stat().st_mtime_ns == before.st_mtime_ns
        assert len(titles(aggregator)) == 2


def test_the_prune_command_says_how_many_items_went_and_by_which_rule(wire: Wire) -> None:
    keep_two_of_ten_days(wire)
    now = now_utc()
    polled(
        wire,
        {ANCIENT: rss(entries("ancient", [40, 35, 30, 25], now)), MIXED: rss(entries("mixed", [1, 2, 20, 30], now))},
    )

    result = wire.run("prune")

    assert result.returncode == 0, result.stderr
    assert "Pruned 4 items older than 10 days (each source keeps its newest 2)." in result.stdout


def test_the_prune_command_with_nothing_old_says_so(wire: Wire) -> None:
    polled(wire, {FRESH: rss(entries("fresh", [0, 1], now_utc()))})

    result = wire.run("prune")

    assert result.returncode == 0, result.stderr
    assert "Pruned 0 items older than 30 days" in result.stdout
