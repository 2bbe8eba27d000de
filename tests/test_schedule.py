"""schedule.next_check: the normal interval, and exponential backoff after failures, capped at a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.config import PollSettings
from aggregator.schedule import next_check
from aggregator.types import Source

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SETTINGS = PollSettings(every=15)


def source(every_minutes: int | None = None) -> Source:
    return Source(id=1, url="https://example.com/feed.xml", every_minutes=every_minutes)


def test_next_check_uses_settings_interval_by_default() -> None:
    assert next_check(NOW, source(), 0, SETTINGS) == NOW + timedelta(minutes=15)


def test_next_check_uses_source_interval_when_set() -> None:
    assert next_check(NOW, source(every_minutes=5), 0, SETTINGS) == NOW + timedelta(minutes=5)


def test_next_check_follows_changed_settings() -> None:
    assert next_check(NOW, source(), 0, PollSettings(every=60)) == NOW + timedelta(hours=1)


@pytest.mark.parametrize(("errors", "minutes"), [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480)])
def test_backoff_doubles_with_each_failure(errors: int, minutes: int) -> None:
    assert next_check(NOW, source(), errors, SETTINGS) == NOW + timedelta(minutes=minutes)


def test_backoff_starts_from_the_source_interval() -> None:
    assert next_check(NOW, source(every_minutes=5), 2, SETTINGS) == NOW + timedelta(minutes=20)


@pytest.mark.parametrize("errors", [7, 10, 11, 50, 10_000])
def test_backoff_is_capped_at_a_day(errors: int) -> None:
    assert next_check(NOW, source(), errors, SETTINGS) == NOW + timedelta(hours=24)


@pytest.mark.parametrize("errors", [0, 1, 3, 20])
def test_backoff_is_never_shorter_than_the_normal_interval(errors: int) -> None:
    weekly = source(every_minutes=7 * 24 * 60)
    assert next_check(NOW, weekly, errors, SETTINGS) == NOW + timedelta(days=7)


def test_backoff_never_decreases_as_failures_accumulate() -> None:
    waits = [next_check(NOW, source(every_minutes=3), errors, SETTINGS) - NOW for errors in range(30)]
    assert waits == sorted(waits)
    assert waits[-1] == timedelta(hours=24)
