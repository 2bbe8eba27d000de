"""When a source is polled next, and why; pure (the clock and the randomness come in as arguments).

The interval starts from the source's own `--every`, else its observed publishing rate (busy
wires sooner, quiet ones later), else `[poll] every`. Publisher hints can only lengthen it: RSS
`<ttl>`, `sy:updatePeriod`/`sy:updateFrequency`, HTTP `Cache-Control: max-age` and `Expires`.
A failure backs off exponentially; a 429 or 503 waits at least its `Retry-After`. Everything
is held between `[poll] floor` and `[poll] cap`, spread by a little jitter so sources do not
poll in lockstep, and moved out of the feed's `skipHours`/`skipDays`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from aggregator.config import PollSettings
from aggregator.types import FeedHints, Source

MAX_DOUBLINGS = 16
# Longer than any [poll] cap: a hint or a backoff past this is held here before the cap applies, so
# that no header (`Retry-After: 99999999999`) or feed (`<ttl>` of a billion minutes) overflows a date.
LONGEST = timedelta(days=365 * 200)
ADAPTIVE_WINDOW = timedelta(days=7)
ADAPTIVE_MIN_ITEMS = 3
# Poll once per average gap between a wire's items: a new item waits half a gap on average.
POLLS_PER_GAP = 1
# A source that published fewer than ADAPTIVE_MIN_ITEMS in a week is polled this much less often.
QUIET_FACTOR = 4


@dataclass(frozen=True)
class PollResult:
    """What the poll that just ended tells the scheduler."""

    status: int | None = None
    failed: bool = False
    error_count: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    hints: FeedHints = field(default_factory=FeedHints)
    recent_published: Sequence[datetime] = ()
    network_down: bool = False


@dataclass(frozen=True)
class Decision:
    """The next poll time, the rule that set it, and every hint that was weighed."""

    at: datetime
    interval: timedelta
    reason: str
    considered: tuple[str, ...] = ()


def next_check(now: datetime, source: Source, outcome: PollResult, settings: PollSettings, chance: float) -> Decision:
    """When to poll `source` next; `chance` in [0, 1) picks the jitter."""
    floor, cap = timedelta(minutes=settings.floor), timedelta(minutes=settings.cap)
    considered: list[str] = []
    interval, reason = _base_interval(now, source, outcome, settings, considered)

    for name, hint in _publisher_hints(now, outcome):
        considered.append(f"{name}: {_span(hint)}")
        if hint > interval:
            interval, reason = hint, f"{name} asks for {_span(hint)}"

    if outcome.network_down:
        reason = "the network was unreachable for every source; retrying at the normal interval"
    elif outcome.failed:
        doublings = min(max(outcome.error_count, 1), MAX_DOUBLINGS)
        backoff = interval * 2**doublings if interval <= LONGEST / 2**doublings else LONGEST
        considered.append(f"error backoff after {outcome.error_count} failures: {_span(backoff)}")
        interval, reason = backoff, f"backing off after {outcome.error_count} consecutive failures"
        retry_after = _retry_after(now, outcome)
        if retry_after is not None:
            considered.append(f"Retry-After: {_span(retry_after)}")
            if retry_after > interval:
                interval, reason = retry_after, f"HTTP {outcome.status} Retry-After asks for {_span(retry_after)}"

    if interval < floor:
        interval, reason = floor, f"{reason}, raised to the {_span(floor)} floor"
    elif interval > cap:
        interval, reason = cap, f"{reason}, held to the {_span(cap)} cap"

    spread = interval * settings.jitter * (2 * chance - 1)
    at = now + interval + spread
    moved = _outside_skipped(at, outcome.hints)
    if moved != at:
        considered.append(f"skipHours/skipDays moved it from {at:%a %H:%M} UTC")
        reason = f"{reason}; moved out of the feed's skipHours/skipDays"
    return Decision(at=moved, interval=interval, reason=reason, considered=tuple(considered))


def jitter_chance(source_id: int, now: datetime) -> float:
    """A repeatable number in [0, 1) for this source at this moment."""
    digest = hashlib.blake2b(f"{source_id}@{now.isoformat()}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def adaptive_interval(now: datetime, published: Sequence[datetime]) -> timedelta | None:
    """The average gap between the last week's items; None when there are too few to tell."""
    start = now - ADAPTIVE_WINDOW
    recent = sorted(p for p in published if start <= p <= now)
    if len(recent) < ADAPTIVE_MIN_ITEMS:
        return None
    gap = (recent[-1] - recent[0]) / (len(recent) - 1)
    return gap / POLLS_PER_GAP


def _base_interval(
    now: datetime, source: Source, outcome: PollResult, settings: PollSettings, considered: list[str]
) -> tuple[timedelta, str]:
    if source.every_minutes:
        considered.append(f"the source's --every: {source.every_minutes} min")
        return _seconds(source.every_minutes * 60), f"the source's --every of {source.every_minutes} min"
    default = timedelta(minutes=settings.every)
    considered.append(f"[poll] every: {settings.every} min")
    if outcome.failed or not outcome.recent_published:
        return default, f"[poll] every of {settings.every} min"
    adaptive = adaptive_interval(now, outcome.recent_published)
    if adaptive is None:
        quiet = default * QUIET_FACTOR
        considered.append(f"publishing rate: under {ADAPTIVE_MIN_ITEMS} items a week, quiet: {_span(quiet)}")
        return quiet, f"a quiet source (under {ADAPTIVE_MIN_ITEMS} items in the last week)"
    considered.append(f"publishing rate: {_span(adaptive)}")
    return adaptive, f"its publishing rate (an item every {_span(adaptive * POLLS_PER_GAP)} on average)"


def _publisher_hints(now: datetime, outcome: PollResult) -> list[tuple[str, timedelta]]:
    hints: list[tuple[str, timedelta]] = []
    if outcome.hints.ttl_minutes:
        hints.append(("RSS <ttl>", _seconds(outcome.hints.ttl_minutes * 60)))
    if outcome.hints.update_minutes:
        hints.append(("sy:updatePeriod", _seconds(outcome.hints.update_minutes * 60)))
    if outcome.failed:
        return hints
    max_age = cache_max_age(outcome.headers)
    if max_age is not None:
        hints.append(("Cache-Control max-age", max_age))
    elif "expires" in outcome.headers:
        expires = _http_date(outcome.headers["expires"])
        date = _http_date(outcome.headers.get("date", "")) or now
        if expires and expires > date:
            hints.append(("Expires", expires - date))
    return hints


def cache_max_age(headers: Mapping[str, str]) -> timedelta | None:
    """`Cache-Control: max-age` (or s-maxage) as a duration; None when absent or `no-cache`."""
    return _max_age(headers.get("cache-control", ""))


# Cached: most sources of one server send the same header, and a poll reads 2,000 of them.
@functools.lru_cache(maxsize=256)
def _max_age(header: str) -> timedelta | None:
    value = header.lower()
    seconds = None
    for directive in value.split(","):
        name, _, argument = directive.strip().partition("=")
        if name in ("no-cache", "no-store"):
            return None
        if name in ("max-age", "s-maxage") and argument.strip('"').isdigit():
            seconds = max(seconds or 0, int(argument.strip('"')))
    return _seconds(seconds) if seconds else None


def _seconds(seconds: float) -> timedelta:
    return timedelta(seconds=min(seconds, LONGEST.total_seconds()))


def _retry_after(now: datetime, outcome: PollResult) -> timedelta | None:
    if outcome.status not in (429, 503):
        return None
    value = outcome.headers.get("retry-after", "").strip()
    if value.isdigit():
        return _seconds(int(value))
    moment = _http_date(value)
    return moment - now if moment and moment > now else None


def _http_date(value: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _outside_skipped(at: datetime, hints: FeedHints) -> datetime:
    """The first moment from `at` that is in neither a skipped hour nor a skipped day (UTC)."""
    if not hints.skip_hours and not hints.skip_days:
        return at
    moment = at.astimezone(UTC)
    for _ in range(24 * 8):
        if moment.hour not in hints.skip_hours and moment.weekday() not in hints.skip_days:
            return moment
        moment = (moment + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return at  # every hour of every day skipped: the feed is contradicting itself; ignore it


@functools.lru_cache(maxsize=1024)
def _span(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 120 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.1f} days".replace(".0 days", " days")
