"""Prometheus metrics of the daemon, fed from each poll's summary (prometheus_client)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from aggregator.types import PollSummary, Source

FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60)


class Metrics:
    """One registry per daemon, so tests and two daemons in one process never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.fetches = Counter(
            "offthewire_fetches",
            "Feed fetches by outcome and HTTP status",
            ["outcome", "status"],
            registry=self.registry,
        )
        self.items = Counter("offthewire_items", "Items stored, by change", ["change"], registry=self.registry)
        self.merged = Counter(
            "offthewire_duplicates_merged", "New items that joined a story already known", registry=self.registry
        )
        self.fetch_seconds = Histogram(
            "offthewire_fetch_duration_seconds", "Time of one fetch", buckets=FETCH_BUCKETS, registry=self.registry
        )
        self.publish_seconds = Histogram(
            "offthewire_publish_duration_seconds", "Time to publish every feed", registry=self.registry
        )
        self.ticks = Counter("offthewire_ticks", "Scheduler ticks", registry=self.registry)
        self.last_tick = Gauge(
            "offthewire_last_tick_timestamp_seconds", "When the last tick ended", registry=self.registry
        )
        self.sources = Gauge("offthewire_sources", "Subscribed sources by state", ["state"], registry=self.registry)

    def observe_poll(self, summary: PollSummary, ended_at: float) -> None:
        self.ticks.inc()
        self.last_tick.set(ended_at)
        for outcome in summary.outcomes:
            kind = "error" if outcome.error else "not_modified" if outcome.not_modified else "ok"
            self.fetches.labels(kind, str(outcome.status) if outcome.status else "none").inc()
            self.items.labels("new").inc(outcome.new)
            self.items.labels("updated").inc(outcome.updated)
            self.merged.inc(outcome.merged)
            if outcome.elapsed:
                self.fetch_seconds.observe(outcome.elapsed)
        if summary.publish_seconds is not None:
            self.publish_seconds.observe(summary.publish_seconds)

    def observe_sources(self, sources: Sequence[Source]) -> None:
        states = {"ok": 0, "backoff": 0, "disabled": 0, "never_polled": 0}
        for source in sources:
            if not source.enabled:
                states["disabled"] += 1
            elif source.error_count:
                states["backoff"] += 1
            elif source.last_status is None:
                states["never_polled"] += 1
            else:
                states["ok"] += 1
        for state, count in states.items():
            self.sources.labels(state).set(count)

    def text(self) -> bytes:
        return generate_latest(self.registry)
