"""schedule.next_check: the normal interval, backoff after failures, the cap, and publisher hints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.config import PollSettings
from aggregator.schedule import Decision, PollResult, next_check
from aggregator.types import FeedHints, Source

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SETTINGS = PollSettings(every=15)
NO_JITTER = 0.5  # chance 0.5 puts the jitter spread at exactly zero


def source(every_minutes: int | None = None) -> Source:
    return Source(id=1, url="https://example.com/feed.xml", every_minutes=every_minutes)


def failed(error_count: int, status: int | None = 500, headers: dict[str, str] | None = None) -> PollResult:
    return PollResult(status=status, failed=True, error_count=error_count, headers=headers or {})


def decide(
    src: Source | None = None,
    outcome: PollResult | None = None,
    settings: PollSettings = SETTINGS,
    chance: float = NO_JITTER,
) -> Decision:
    return next_check(NOW, src or source(), outcome or PollResult(status=200), settings, chance)


def wait(decision: Decision) -> timedelta:
    return decision.at - NOW


def test_next_check_uses_settings_interval_by_default() -> None:
    decision = decide()
    assert decision.interval == timedelta(minutes=15)
    assert wait(decision) == timedelta(minutes=15)


def test_next_check_uses_source_interval_when_set() -> None:
    assert wait(decide(source(every_minutes=5))) == timedelta(minutes=5)


def test_next_check_follows_changed_settings() -> None:
    assert wait(decide(settings=PollSettings(every=60))) == timedelta(hours=1)


@pytest.mark.parametrize(("errors", "minutes"), [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480)])
def test_backoff_doubles_with_each_failure(errors: int, minutes: int) -> None:
    assert wait(decide(outcome=failed(errors))) == timedelta(minutes=minutes)


def test_backoff_starts_from_the_source_interval() -> None:
    assert wait(decide(source(every_minutes=5), failed(2))) == timedelta(minutes=20)


@pytest.mark.parametrize("errors", [7, 10, 16, 50, 10_000])
def test_backoff_is_capped_at_a_day_by_default(errors: int) -> None:
    assert wait(decide(outcome=failed(errors))) == timedelta(hours=24)


def test_backoff_cap_follows_settings() -> None:
    settings = PollSettings(every=15, cap=120.0)
    assert wait(decide(outcome=failed(6), settings=settings)) == timedelta(hours=2)


@pytest.mark.parametrize("errors", range(0, 30, 3))
def test_backoff_is_never_shorter_than_the_normal_interval(errors: int) -> None:
    outcome = failed(errors) if errors else PollResult(status=200)
    assert wait(decide(source(every_minutes=600), outcome)) >= timedelta(minutes=600)


def test_backoff_never_decreases_as_failures_accumulate() -> None:
    waits = [wait(decide(source(every_minutes=3), failed(errors))) for errors in range(1, 30)]
    assert waits == sorted(waits)
    assert waits[-1] == timedelta(hours=24)


def test_failure_reason_mentions_backoff() -> None:
    assert "backing off" in decide(outcome=failed(3)).reason


@pytest.mark.parametrize("chance", [0.0, 0.25, 0.75, 0.999])
def test_jitter_stays_within_its_fraction_of_the_interval(chance: float) -> None:
    spread = abs(wait(decide(chance=chance)) - timedelta(minutes=15))
    assert spread <= timedelta(minutes=15) * SETTINGS.jitter


def test_jitter_moves_the_time_but_not_the_interval() -> None:
    early, late = decide(chance=0.0), decide(chance=0.999)
    assert early.at < late.at
    assert early.interval == late.interval == timedelta(minutes=15)


def test_floor_raises_a_too_short_interval() -> None:
    settings = PollSettings(every=15, floor=10.0)
    assert wait(decide(source(every_minutes=2), settings=settings)) == timedelta(minutes=10)


def test_ttl_hint_lengthens_the_interval() -> None:
    outcome = PollResult(status=200, hints=FeedHints(ttl_minutes=60))
    assert wait(decide(outcome=outcome)) == timedelta(minutes=60)


def test_ttl_hint_never_shortens_the_interval() -> None:
    outcome = PollResult(status=200, hints=FeedHints(ttl_minutes=5))
    assert wait(decide(outcome=outcome)) == timedelta(minutes=15)


def test_cache_control_max_age_lengthens_the_interval() -> None:
    outcome = PollResult(status=200, headers={"cache-control": "public, max-age=3600"})
    assert wait(decide(outcome=outcome)) == timedelta(hours=1)


def test_retry_after_seconds_is_respected_on_429() -> None:
    outcome = failed(1, status=429, headers={"retry-after": "7200"})
    assert wait(decide(outcome=outcome)) == timedelta(hours=2)


def test_retry_after_is_ignored_for_other_statuses() -> None:
    outcome = failed(1, status=500, headers={"retry-after": "7200"})
    assert wait(decide(outcome=outcome)) == timedelta(minutes=30)


def test_skip_hours_move_the_poll_to_the_next_allowed_hour() -> None:
    outcome = PollResult(status=200, hints=FeedHints(skip_hours=frozenset({12, 13})))
    assert decide(outcome=outcome).at == datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
