"""When a source is polled next; pure.

A source is due every `every` minutes (its own, else `[poll] every`). After a failure the
interval doubles with each consecutive failure, up to a day, so a broken feed is retried
politely and never abandoned.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aggregator.config import PollSettings
from aggregator.types import Source

MAX_BACKOFF = timedelta(hours=24)
MAX_DOUBLINGS = 10


def interval(source: Source, settings: PollSettings) -> timedelta:
    """The source's normal time between polls."""
    return timedelta(minutes=source.every_minutes or settings.every)


def next_check(now: datetime, source: Source, error_count: int, settings: PollSettings) -> datetime:
    """The next poll time after a poll that left `error_count` consecutive failures."""
    normal = interval(source, settings)
    if error_count == 0:
        return now + normal
    # Back off exponentially, but never wait longer than a day or less than the normal interval.
    backoff: timedelta = normal * (2 ** min(error_count, MAX_DOUBLINGS))
    return now + max(normal, min(backoff, MAX_BACKOFF))
