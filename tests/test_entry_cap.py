"""[poll] max_entries: a document listing more entries is cut to its newest ones, and the cut is the
source's warning where users look (`list`, `explain`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import Wire, now_utc, rss
from fakes import FakeClock, FakeFetcher, aggregator_for

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
URL = "https://long.example/feed.xml"
WARNING = "5 entries; only the newest 3 are kept ([poll] max_entries)"


def long_feed(now: datetime) -> bytes:
    start = now - timedelta(minutes=120)
    return rss([(f"e{n}", f"Entry {n} of the long feed", None, start + timedelta(minutes=n)) for n in range(5)])


def test_a_feed_longer_than_max_entries_keeps_its_newest_and_says_so(wire: Wire) -> None:
    wire.configure(poll={"max_entries": 3})
    fetcher = FakeFetcher()
    fetcher.documents[URL] = long_feed(T0)
    with aggregator_for(wire.config, FakeClock(T0), fetcher) as aggregator:
        aggregator.add_source(URL)

        [outcome] = aggregator.poll().outcomes

        assert (outcome.error, outcome.new) == (None, 3)
        assert WARNING in (outcome.warning or "")
        titles = sorted(item.title for item in aggregator.items())
        assert titles == ["Entry 2 of the long feed", "Entry 3 of the long feed", "Entry 4 of the long feed"]
        assert WARNING in (aggregator.find_source(URL).last_warning or "")


def test_list_and_explain_show_the_cut(wire: Wire) -> None:
    wire.configure(poll={"max_entries": 3})
    fetcher = FakeFetcher()
    fetcher.documents[URL] = long_feed(now_utc())
    with aggregator_for(wire.config, fetcher=fetcher) as aggregator:
        aggregator.add_source(URL)
        assert aggregator.poll().new == 3

    assert WARNING in wire.ok("list")
    assert f"Last warning: {WARNING}" in wire.ok("explain", URL)
    assert wire.json("explain", URL)["last_warning"] == WARNING
