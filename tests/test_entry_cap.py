"""[poll] max_entries: a document listing more entries is cut to its newest ones, and the cut is the
source's warning where users look (`list`, `explain`)."""

from __future__ import annotations

from datetime import timedelta

from conftest import Wire, minutes_ago, poll_counts, rss
from feedserver import FeedServer


def test_a_feed_longer_than_max_entries_keeps_its_newest_and_says_so(feed_server: FeedServer, wire: Wire) -> None:
    wire.configure(poll={"max_entries": 3})
    start = minutes_ago(120)
    entries = [(f"e{n}", f"Entry {n} of the long feed", None, start + timedelta(minutes=n)) for n in range(5)]
    url = feed_server.serve("/long.xml", rss(entries))
    wire.add(url)

    assert poll_counts(wire.run("poll"))["new"] == 3

    titles = sorted(item["title"] for item in wire.items())
    assert titles == ["Entry 2 of the long feed", "Entry 3 of the long feed", "Entry 4 of the long feed"]
    warning = "5 entries; only the newest 3 are kept ([poll] max_entries)"
    assert warning in wire.sources()[url]["last_warning"]
    assert warning in wire.ok("list")
    assert f"Last warning: {warning}" in wire.ok("explain", url)
    assert wire.json("explain", url)["last_warning"] == warning
