"""Polls a day with publisher hints against a fixed 15-minute poll, for a realistic mix of wires.

    python -m bench.schedule_savings

Each source is simulated for 24 hours through `schedule.next_check`, with the hints a real feed
of its kind sends; the baseline polls every source every `[poll] every` minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aggregator.config import PollSettings
from aggregator.schedule import PollResult, jitter_chance, next_check
from aggregator.types import FeedHints, Source

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Wire:
    name: str
    items_per_day: int
    hints: FeedHints = field(default_factory=FeedHints)
    headers: tuple[tuple[str, str], ...] = ()


WIRES = (
    Wire("agency top news, 240 items a day", 240),
    Wire("broadcaster world, <ttl>15", 90, FeedHints(ttl_minutes=15)),
    Wire("national desk, <ttl>60", 40, FeedHints(ttl_minutes=60)),
    Wire("business, Cache-Control max-age=1800", 60, headers=(("cache-control", "max-age=1800"),)),
    Wire("science weekly, sy:updatePeriod daily", 3, FeedHints(update_minutes=1440)),
    Wire("regional paper, skipHours 0-5", 30, FeedHints(skip_hours=frozenset(range(6)))),
    Wire("blog, 2 posts a week", 0),
    Wire("sports, busy evenings", 120),
)


def published_times(wire: Wire, now: datetime) -> list[datetime]:
    if not wire.items_per_day:
        return [now - timedelta(days=3), now - timedelta(days=6)]
    gap = DAY / wire.items_per_day
    return [now - gap * n for n in range(min(30, wire.items_per_day * 7))]


def polls_in_a_day(wire: Wire, source_id: int, settings: PollSettings) -> int:
    source = Source(id=source_id, url=f"https://wire{source_id}.example/feed.xml")
    now, polls = START, 0
    while now < START + DAY and polls < 10_000:
        polls += 1
        outcome = PollResult(
            status=200, headers=dict(wire.headers), hints=wire.hints, recent_published=published_times(wire, now)
        )
        now = next_check(now, source, outcome, settings, jitter_chance(source_id, now)).at
    return polls


def main() -> None:
    settings = PollSettings()
    fixed = int(DAY / timedelta(minutes=settings.every))
    total_hinted = 0
    print(f"{'source':<42}{'fixed 15 min':>13}{'with hints':>12}")
    for number, wire in enumerate(WIRES, start=1):
        hinted = polls_in_a_day(wire, number, settings)
        total_hinted += hinted
        print(f"{wire.name:<42}{fixed:>13}{hinted:>12}")
    total_fixed = fixed * len(WIRES)
    saved = 1 - total_hinted / total_fixed
    print(
        f"{'all':<42}{total_fixed:>13}{total_hinted:>12}   ratio {total_hinted / total_fixed:.2f} ({saved:.0%} saved)"
    )


if __name__ == "__main__":
    main()
