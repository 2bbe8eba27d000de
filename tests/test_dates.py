"""Dates at the extremes: year 1 (the .NET default), year 9999, before 1970, offsets of +/-14 hours,
naive times, leap seconds and garbage. Each is normalised at parse time into the range the rest of
the code does arithmetic on, and a whole poll (storing, story windows, schedule, publishing every
format, retention) stores every well-formed source whatever its dates say."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from conftest import Wire, minutes_ago, poll_counts, rss
from fakes import FakeClock, FakeFetcher, aggregator_for, settings_in
from feedserver import FeedServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from aggregator.core import Aggregator
from aggregator.parse import EARLIEST_DATE, parse_feed
from aggregator.store import Store

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
URL = "https://dates.example/feed"
HEADERS = {"content-type": "application/rss+xml"}

# (RSS pubDate, Atom date) text: the forms feeds in the wild carry.
EXTREME_DATES = [
    ("Mon, 01 Jan 0001 00:00:00 GMT", "0001-01-01T00:00:00Z"),
    ("Fri, 31 Dec 9999 23:59:59 GMT", "9999-12-31T23:59:59Z"),
    ("Sun, 20 Jul 1969 20:17:40 GMT", "1969-07-20T20:17:40Z"),
    ("Thu, 01 Jan 1970 00:00:00 GMT", "1970-01-01T00:00:00Z"),
    ("Wed, 31 Dec 1969 23:59:59 -1400", "1969-12-31T23:59:59-14:00"),
    ("Sat, 05 Dec 2026 09:00:00 +1400", "2026-12-05T09:00:00+14:00"),
    ("Fri, 04 Dec 2026 22:00:00 -1400", "2026-12-04T22:00:00-14:00"),
    ("Fri, 04 Dec 2026 10:00:00", "2026-12-04T10:00:00"),
    ("Wed, 31 Dec 2025 23:59:60 GMT", "2025-12-31T23:59:60Z"),
    ("Sat, 05 Dec 2026 13:00:00 GMT", "2026-12-05T13:00:00Z"),
    ("yesterday-ish", "2026-13-45T99:99:99Z"),
    ("", "not a date"),
    ("Mon, 99 Foo 2026 25:61:00 GMT", "+002026-01-01T00:00:00Z"),
]


def _rss(dates: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Report {n} from the dates desk</title><link>https://dates.example/{n}</link>"
        f"<guid>d{n}</guid><pubDate>{escape(date)}</pubDate></item>"
        for n, date in enumerate(dates)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Dates</title>{items}</channel></rss>'.encode()


def _atom(dates: list[str]) -> bytes:
    entries = "".join(
        f"<entry><title>Atom report {n}</title><id>urn:a{n}</id><link href='https://dates.example/a{n}'/>"
        f"<published>{escape(date)}</published><updated>{escape(date)}</updated></entry>"
        for n, date in enumerate(dates)
    )
    return (
        "<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>Dates</title><id>urn:f</id>"
        f"<updated>{escape(dates[0])}</updated>{entries}</feed>"
    ).encode()


def test_every_date_kept_is_between_1970_and_now() -> None:
    for make, column in ((_rss, 0), (_atom, 1)):
        parsed = parse_feed(make([pair[column] for pair in EXTREME_DATES]), HEADERS, URL, NOW)
        assert len(parsed.entries) == len(EXTREME_DATES)
        for entry in parsed.entries:
            for moment in (entry.published, entry.updated):
                assert moment is None or EARLIEST_DATE <= moment <= NOW
        assert parsed.meta.updated is None or EARLIEST_DATE <= parsed.meta.updated <= NOW


def test_offsets_naive_times_and_leap_seconds_are_read_in_utc() -> None:
    dates = ["Sat, 05 Dec 2026 09:00:00 +1400", "Fri, 04 Dec 2026 10:00:00", "Wed, 31 Dec 2025 23:59:60 GMT"]
    published = [entry.published for entry in parse_feed(_rss(dates), HEADERS, URL, NOW).entries]
    assert published == [
        datetime(2026, 12, 4, 19, 0, tzinfo=UTC),
        datetime(2026, 12, 4, 10, 0, tzinfo=UTC),  # a time without an offset is UTC
        datetime(2026, 1, 1, 0, 0, tzinfo=UTC),  # the leap second rolls over into the new year
    ]


def test_impossible_dates_give_way_to_the_first_seen_time_with_a_warning_naming_one() -> None:
    dates = ["Mon, 01 Jan 0001 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Fri, 04 Dec 2026 10:00:00 GMT"]
    parsed = parse_feed(_rss(dates), HEADERS, URL, NOW)
    assert [entry.published for entry in parsed.entries] == [None, None, datetime(2026, 12, 4, 10, tzinfo=UTC)]
    assert parsed.warning is not None
    assert "2 entries dated before 1970 or in the future" in parsed.warning
    assert "Mon, 01 Jan 0001 00:00:00 GMT" in parsed.warning


def test_a_few_minutes_of_clock_skew_is_no_warning() -> None:
    parsed = parse_feed(_rss(["Sat, 05 Dec 2026 12:05:00 GMT"]), HEADERS, URL, NOW)
    assert parsed.entries[0].published is None
    assert parsed.warning is None


any_date = st.sampled_from(EXTREME_DATES) | st.tuples(st.text(max_size=30), st.text(max_size=30))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feeds=st.lists(st.lists(any_date, min_size=1, max_size=6), min_size=1, max_size=4), atom=st.booleans())
def test_a_whole_poll_stores_every_well_formed_source_whatever_its_dates(
    feeds: list[list[tuple[str, str]]], atom: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        clock, fetcher = FakeClock(NOW), FakeFetcher()
        settings_ = settings_in(Path(folder))
        with Aggregator(settings_, Store(settings_.storage.path), clock=clock, fetcher=fetcher) as aggregator:
            for n, dates in enumerate(feeds):
                url = f"https://dates{n}.example/feed"
                aggregator.add_source(url)
                fetcher.documents[url] = _atom([d[1] for d in dates]) if atom else _rss([d[0] for d in dates])
            aggregator.poll(every_source=True)
            clock.advance(days=400)  # past retention, and past any story window
            aggregator.poll(every_source=True)
            aggregator.prune()

            for source, dates in zip(aggregator.sources(), feeds, strict=True):
                assert source.last_error is None, source.last_error
                assert source.item_count == len(dates)  # each source keeps its newest 50 through retention
                assert source.next_fetch_at is not None and source.next_fetch_at > clock.now
            for item in aggregator.items(limit=1000):
                assert EARLIEST_DATE <= item.published <= clock.now
            public = settings_.output.dir
            etree.fromstring((public / "off-the-wire.atom").read_bytes())
            etree.fromstring((public / "off-the-wire.rss").read_bytes())
            json.loads((public / "off-the-wire.json").read_text(encoding="utf-8"))


def test_retention_and_story_windows_at_the_edges_of_time(tmp_path: Path) -> None:
    """A clock in year 9998 (a machine with a broken clock) still polls, matches and prunes."""
    clock, fetcher = FakeClock(datetime(9998, 12, 1, tzinfo=UTC)), FakeFetcher()
    settings_ = settings_in(tmp_path)
    with Aggregator(settings_, Store(settings_.storage.path), clock=clock, fetcher=fetcher) as aggregator:
        aggregator.add_source(URL)
        fetcher.documents[URL] = _rss(["Fri, 31 Dec 9999 23:59:59 GMT", "Thu, 01 Jan 1970 00:00:00 GMT"])
        aggregator.poll(every_source=True)
        clock.advance(days=60)
        aggregator.prune()
        [source] = aggregator.sources()
        assert source.last_error is None
        assert source.next_fetch_at is not None and source.next_fetch_at - clock.now < timedelta(days=2)


def test_a_year_one_entry_among_good_feeds_through_the_cli(feed_server: FeedServer, wire: Wire) -> None:
    """As a user sees it: every feed is stored, the feeds are written, `list` names the sloppy one."""
    good = [
        feed_server.serve(f"/good{n}.xml", rss([(f"g{n}", f"Good desk {n}: {word} opens", None, minutes_ago(30))]))
        for n, word in enumerate(["bridge", "museum", "library"])
    ]
    dotnet = _rss(["Mon, 01 Jan 0001 00:00:00 GMT", format_datetime(minutes_ago(60), usegmt=True)])
    sloppy = feed_server.serve("/dotnet.xml", dotnet)
    with aggregator_for(wire.config) as aggregator:
        for url in (*good, sloppy):
            aggregator.add_source(url)

    result = wire.run("poll", "--all")

    assert poll_counts(result) == {"polled": 4, "new": 5, "updated": 0, "not_modified": 0, "failed": 0}
    with aggregator_for(wire.config) as aggregator:
        sources = {source.url: source for source in aggregator.sources()}
    assert all(sources[url].last_error is None for url in sources)
    assert [sources[url].item_count for url in (*good, sloppy)] == [1, 1, 1, 2]
    assert "Mon, 01 Jan 0001 00:00:00 GMT" in (sources[sloppy].last_warning or "")
    listed = wire.ok("list")
    assert "warning: 1 entries dated before 1970 or in the future (such as 'Mon, 01 Jan 0001" in listed
    assert wire.feed_file().read_text(encoding="utf-8").count("<entry>") == 5
    explained = wire.ok("explain", sloppy)
    assert "Last warning: 1 entries dated before 1970" in explained
