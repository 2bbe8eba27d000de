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


def test_sy_update_period_lengthens_the_interval_and_names_itself() -> None:
    outcome = PollResult(status=200, hints=FeedHints(update_minutes=120.0))
    decision = decide(outcome=outcome)
    assert wait(decision) == timedelta(hours=2)
    assert decision.reason.startswith("sy:updatePeriod")


def test_expires_counts_from_the_server_date() -> None:
    headers = {"date": "Sat, 28 Nov 2026 11:00:00 GMT", "expires": "Sat, 28 Nov 2026 12:00:00 GMT"}
    decision = decide(outcome=PollResult(status=200, headers=headers))
    assert wait(decision) == timedelta(hours=1)
    assert decision.reason.startswith("Expires")


def test_max_age_wins_over_expires_and_no_cache_cancels_it() -> None:
    both = {"cache-control": "public, max-age=3600", "expires": "Sat, 28 Nov 2026 20:00:00 GMT"}
    assert wait(decide(outcome=PollResult(status=200, headers=both))) == timedelta(hours=1)
    no_cache = {"cache-control": "no-cache, max-age=3600"}
    assert wait(decide(outcome=PollResult(status=200, headers=no_cache))) == timedelta(minutes=15)


def test_retry_after_as_an_http_date_on_503() -> None:
    outcome = failed(1, status=503, headers={"retry-after": "Sat, 28 Nov 2026 15:00:00 GMT"})
    decision = decide(outcome=outcome)
    assert wait(decision) == timedelta(hours=3)
    assert "Retry-After" in decision.reason


def test_skip_hours_across_midnight_and_skip_days_move_to_the_first_allowed_hour() -> None:
    late = NOW.replace(hour=23, minute=50)  # a Saturday
    hints = FeedHints(skip_hours=frozenset({0, 1, 23}), skip_days=frozenset({6}))  # and never on Sunday
    decision = next_check(late, source(), PollResult(status=200, hints=hints), SETTINGS, NO_JITTER)
    assert decision.at == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert "skipHours/skipDays" in decision.reason


def test_every_hour_skipped_is_ignored_rather_than_never_polling() -> None:
    hints = FeedHints(skip_hours=frozenset(range(24)))
    assert wait(decide(outcome=PollResult(status=200, hints=hints))) == timedelta(minutes=15)


def test_busy_wire_is_polled_sooner_and_quiet_one_later() -> None:
    busy = [NOW - timedelta(minutes=4 * n) for n in range(20)]  # an item every 4 minutes
    quiet = [NOW - timedelta(days=3)]
    busy_wait = wait(decide(outcome=PollResult(status=200, recent_published=busy)))
    quiet_decision = decide(outcome=PollResult(status=200, recent_published=quiet))
    assert busy_wait == timedelta(minutes=4)
    assert wait(quiet_decision) == timedelta(minutes=60)
    assert "quiet" in quiet_decision.reason


def test_publishing_rate_is_held_to_the_floor() -> None:
    torrent = [NOW - timedelta(seconds=10 * n) for n in range(30)]
    decision = decide(outcome=PollResult(status=200, recent_published=torrent))
    assert wait(decision) == timedelta(minutes=1)
    assert "floor" in decision.reason


def test_a_source_every_beats_the_publishing_rate() -> None:
    busy = [NOW - timedelta(minutes=4 * n) for n in range(20)]
    assert wait(decide(source(every_minutes=30), PollResult(status=200, recent_published=busy))) == timedelta(
        minutes=30
    )


def test_network_down_keeps_the_normal_interval_without_backoff() -> None:
    outcome = PollResult(status=None, failed=True, error_count=4, network_down=True)
    decision = decide(outcome=outcome)
    assert wait(decision) == timedelta(minutes=15)
    assert "network" in decision.reason


def test_a_failing_source_is_never_dropped_it_is_retried_at_the_cap() -> None:
    for errors in (20, 200):
        assert wait(decide(outcome=failed(errors))) == timedelta(hours=24)


def test_considered_lists_every_hint_that_was_weighed() -> None:
    outcome = PollResult(
        status=200, headers={"cache-control": "max-age=600"}, hints=FeedHints(ttl_minutes=30, update_minutes=60.0)
    )
    considered = decide(outcome=outcome).considered
    assert any(line.startswith("RSS <ttl>") for line in considered)
    assert any(line.startswith("sy:updatePeriod") for line in considered)
    assert any(line.startswith("Cache-Control max-age") for line in considered)


HUGE = "9" * 30


@pytest.mark.parametrize(
    ("outcome", "hints"),
    [
        (failed(3, status=429, headers={"retry-after": HUGE}), FeedHints()),
        (failed(3, status=503, headers={"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}), FeedHints()),
        (PollResult(status=200, headers={"cache-control": f"max-age={HUGE}"}), FeedHints()),
        (PollResult(status=200, headers={"expires": "Fri, 31 Dec 9999 23:59:59 GMT"}), FeedHints()),
        (PollResult(status=200), FeedHints(ttl_minutes=int(HUGE))),
        (PollResult(status=200), FeedHints(update_minutes=float(HUGE))),
        (failed(10**6), FeedHints(ttl_minutes=int(HUGE))),
    ],
    ids=["retry-after-seconds", "retry-after-9999", "max-age", "expires-9999", "ttl", "sy-period", "backoff"],
)
def test_hints_at_the_extremes_are_held_to_the_cap_without_overflowing(outcome: PollResult, hints: FeedHints) -> None:
    outcome = PollResult(
        status=outcome.status,
        failed=outcome.failed,
        error_count=outcome.error_count,
        headers=outcome.headers,
        hints=hints,
    )
    assert wait(decide(outcome=outcome)) == timedelta(minutes=SETTINGS.cap)


def test_a_source_polled_once_a_century_is_held_to_the_cap() -> None:
    assert wait(decide(source(every_minutes=10**15), failed(16))) == timedelta(minutes=SETTINGS.cap)
