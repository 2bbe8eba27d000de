"""Freshness: how long a new item waits before it appears, fixed intervals against the adaptive scheduler.

    python -m bench.freshness [--days 28]

Three publishing patterns, generated once from a fixed seed so every run sees the same history:

- busy wire: about 200 items a day, most in daytime hours;
- quiet blog: two posts a week, at irregular times;
- bursty desk: a few bursts a day (5 to 15 items within half an hour) and a trickle between.

Each source is simulated for a week of history (so the scheduler has a publishing rate to go on)
and then `--days` measured days. The adaptive schedule is `aggregator.schedule.next_check`, fed
what a poll sees: the publication times of the newest 30 items published so far. The fixed
schedule polls every source at one interval, chosen so that it makes the same number of requests
in all as the adaptive one; each source starts at its own phase. A new item appears at the first
poll after it is published: its delay is that poll's time minus its publication time.
"""

from __future__ import annotations

import argparse
import bisect
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aggregator.config import PollSettings
from aggregator.schedule import PollResult, jitter_chance, next_check
from aggregator.types import Source

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a Monday
HISTORY = timedelta(days=7)
RECENT_ITEMS = 30  # what the store gives the scheduler: the newest items' publication times
MAX_POLLS = 200_000


@dataclass(frozen=True)
class Pattern:
    name: str
    make: Callable[[random.Random, datetime, datetime], list[datetime]]


def busy_wire(rng: random.Random, start: datetime, end: datetime) -> list[datetime]:
    times: list[datetime] = []
    moment = start
    while moment < end and len(times) < MAX_POLLS:
        # 12 an hour from 06:00 to 22:00 UTC, 3 an hour at night.
        rate = 12 if 6 <= moment.hour < 22 else 3
        moment += timedelta(hours=rng.expovariate(rate))
        times.append(moment)
    return [t for t in times if t < end]


def quiet_blog(rng: random.Random, start: datetime, end: datetime) -> list[datetime]:
    days = (end - start).days
    times = [start + timedelta(days=rng.uniform(0, days)) for _ in range(days * 2 // 7 + 1)]
    return sorted(t.replace(hour=rng.randint(7, 20)) for t in times)


def bursty_desk(rng: random.Random, start: datetime, end: datetime) -> list[datetime]:
    times = []
    for day in range((end - start).days):
        midnight = start + timedelta(days=day)
        for _ in range(rng.randint(2, 4)):
            burst = midnight + timedelta(hours=rng.uniform(6, 21))
            times += [burst + timedelta(minutes=rng.uniform(0, 30)) for _ in range(rng.randint(5, 15))]
        times += [midnight + timedelta(hours=rng.uniform(0, 24)) for _ in range(rng.randint(2, 6))]
    return sorted(t for t in times if t < end)


PATTERNS = (Pattern("busy wire", busy_wire), Pattern("quiet blog", quiet_blog), Pattern("bursty desk", bursty_desk))


def delays(published: list[datetime], polls: list[datetime], begin: datetime) -> list[float]:
    """Minutes each item published after `begin` waited for the first poll at or after it."""
    waits = []
    for moment in published:
        if moment < begin:
            continue
        at = bisect.bisect_left(polls, moment)
        if at < len(polls):
            waits.append((polls[at] - moment).total_seconds() / 60)
    return waits


def adaptive_polls(source_id: int, published: list[datetime], end: datetime, settings: PollSettings) -> list[datetime]:
    source = Source(id=source_id, url=f"https://source{source_id}.example/feed.xml")
    polls: list[datetime] = []
    now = START
    while now < end and len(polls) < MAX_POLLS:
        polls.append(now)
        seen = bisect.bisect_right(published, now)
        outcome = PollResult(status=200, recent_published=published[max(0, seen - RECENT_ITEMS) : seen])
        now = next_check(now, source, outcome, settings, jitter_chance(source_id, now)).at
    return polls


def fixed_polls(interval: timedelta, phase: float, end: datetime) -> list[datetime]:
    polls: list[datetime] = []
    now = START + interval * phase
    while now < end and len(polls) < MAX_POLLS:
        polls.append(now)
        now += interval
    return polls


def simulate(days: int, seed: int = 11) -> dict[str, Any]:
    """Mean delays per pattern and overall, adaptive against fixed at the same total requests."""
    settings = PollSettings()
    begin, end = START + HISTORY, START + HISTORY + timedelta(days=days)
    rng = random.Random(seed)
    histories = [pattern.make(rng, START, end) for pattern in PATTERNS]
    adaptive = [adaptive_polls(n + 1, times, end, settings) for n, times in enumerate(histories)]
    requests = [sum(1 for p in polls if p >= begin) for polls in adaptive]
    interval = timedelta(days=days) * len(PATTERNS) / sum(requests)
    fixed = [fixed_polls(interval, rng.random(), end) for _ in PATTERNS]
    default = [fixed_polls(timedelta(minutes=settings.every), rng.random(), end) for _ in PATTERNS]
    rows, every_adaptive, every_fixed = [], [], []
    for pattern, times, mine, theirs, usual, asked in zip(
        PATTERNS, histories, adaptive, fixed, default, requests, strict=True
    ):
        waits_adaptive, waits_fixed = delays(times, mine, begin), delays(times, theirs, begin)
        every_adaptive += waits_adaptive
        every_fixed += waits_fixed
        rows.append(
            {
                "pattern": pattern.name,
                "items": len(waits_adaptive),
                "adaptive_requests": asked,
                "adaptive_mean_min": _mean(waits_adaptive),
                "fixed_requests": sum(1 for p in theirs if p >= begin),
                "fixed_mean_min": _mean(waits_fixed),
                "default_requests": sum(1 for p in usual if p >= begin),
                "default_mean_min": _mean(delays(times, usual, begin)),
            }
        )
    return {
        "days": days,
        "fixed_interval_min": interval.total_seconds() / 60,
        "default_interval_min": settings.every,
        "patterns": rows,
        "adaptive_mean_min": _mean(every_adaptive),
        "fixed_mean_min": _mean(every_fixed),
        "adaptive_requests": sum(requests),
        "fixed_requests": sum(r["fixed_requests"] for r in rows),
    }


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def table(result: dict[str, Any]) -> str:
    lines = [
        f"Freshness over {result['days']} days: mean minutes from publication to appearance",
        f"(fixed: every {result['fixed_interval_min']:.1f} min, the same requests in all as adaptive;"
        f" default: every {result['default_interval_min']} min)",
        f"{'pattern':<14}{'items':>7}{'adaptive':>10}{'requests':>10}{'fixed':>9}{'requests':>10}"
        f"{'default':>9}{'requests':>10}",
    ]
    for row in result["patterns"]:
        lines.append(
            f"{row['pattern']:<14}{row['items']:>7}{row['adaptive_mean_min']:>10.1f}{row['adaptive_requests']:>10}"
            f"{row['fixed_mean_min']:>9.1f}{row['fixed_requests']:>10}"
            f"{row['default_mean_min']:>9.1f}{row['default_requests']:>10}"
        )
    lines.append(
        f"{'every item':<14}{'':>7}{result['adaptive_mean_min']:>10.1f}{result['adaptive_requests']:>10}"
        f"{result['fixed_mean_min']:>9.1f}{result['fixed_requests']:>10}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.freshness", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=28)
    print(table(simulate(parser.parse_args().days)))


if __name__ == "__main__":
    main()
