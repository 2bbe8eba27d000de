"""Integration tests of `offthewire poll`: a real HTTP server, a real SQLite file, the real CLI.

Conditional GETs, change detection, failures that stay inside one source, size and redirect
limits, which sources a poll picks, and the dates items get.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Wire, http_date, iso, minutes_ago, now_utc, parse_iso, poll_counts, rss
from feedserver import FeedServer

WEAK_ETAG = 'W/"abc-123:x=1+/;"'


def entries(prefix: str, count: int, start_minutes: int = 90) -> list[tuple[Any, ...]]:
    """`count` dated entries, the newest last, with headlines no topic keyword matches."""
    return [
        (
            f"{prefix}-{n}",
            f"{prefix.title()} desk report number {n} on harbour traffic",
            f"https://{prefix}.example/news/{n}",
            minutes_ago(start_minutes - 5 * n),
        )
        for n in range(count)
    ]


def titles(items: list[dict[str, Any]]) -> set[str]:
    return {item["title"] for item in items}


def test_first_poll_stores_every_entry(wire: Wire, feed_server: FeedServer) -> None:
    feed = entries("alpha", 3)
    url = feed_server.serve("/alpha.xml", rss(feed, title="Alpha Wire"))
    source_id = wire.add(url)

    result = wire.run("poll")

    assert result.returncode == 0, result.stderr
    assert poll_counts(result) == {"polled": 1, "new": 3, "updated": 0, "not_modified": 0, "failed": 0}
    listed, items = (r.stdout for r in wire.run_parallel(["list", "--json"], ["items", "--json"]))
    source = {s["id"]: s for s in json.loads(listed)}[source_id]
    assert source["item_count"] == 3
    assert source["last_status"] == 200
    assert source["last_error"] is None
    assert source["last_fetched_at"] is not None
    stored = json.loads(items)
    assert titles(stored) == {title for _, title, _, _ in feed}
    assert {item["link"] for item in stored} == {link for _, _, link, _ in feed}
    assert all(item["source_id"] == source_id for item in stored)


def test_second_poll_sends_validators_back_and_stores_nothing_on_304(wire: Wire, feed_server: FeedServer) -> None:
    etag_modified = http_date(minutes_ago(30))
    only_modified = http_date(minutes_ago(45))
    with_etag = feed_server.serve("/etag.xml", rss(entries("etag", 3)), etag=WEAK_ETAG, last_modified=etag_modified)
    with_date = feed_server.serve("/date.xml", rss(entries("date", 2)), last_modified=only_modified)
    wire.add_many(with_etag, with_date)
    first = wire.run("poll", "--all")
    assert poll_counts(first)["new"] == 5

    second = wire.run("poll", "--all")

    assert second.returncode == 0, second.stderr
    assert poll_counts(second) == {"polled": 2, "new": 0, "updated": 0, "not_modified": 2, "failed": 0}
    etag_requests = feed_server.requests_for("/etag.xml")
    date_requests = feed_server.requests_for("/date.xml")
    assert [r.status for r in etag_requests] == [200, 304]
    assert [r.status for r in date_requests] == [200, 304]
    # The first request has nothing to send back; the second echoes the validators byte for byte.
    assert etag_requests[0].header("if-none-match") is None
    assert etag_requests[0].header("if-modified-since") is None
    assert etag_requests[1].header("if-none-match") == WEAK_ETAG
    assert etag_requests[1].header("if-modified-since") == etag_modified
    assert date_requests[1].header("if-none-match") is None
    assert date_requests[1].header("if-modified-since") == only_modified
    counts = {url: s["item_count"] for url, s in wire.sources().items()}
    assert counts == {with_etag: 3, with_date: 2}


def test_requests_identify_the_client_and_accept_gzip(wire: Wire, feed_server: FeedServer) -> None:
    feed = entries("zipped", 4)
    url = feed_server.serve("/zipped.xml", rss(feed), gzip=True)
    wire.add(url)

    result = wire.run("poll")

    assert poll_counts(result)["new"] == 4
    (request,) = feed_server.requests_for("/zipped.xml")
    assert (request.header("user-agent") or "").startswith("offthewire/")
    assert "gzip" in (request.header("accept-encoding") or "").lower()
    assert request.gzipped, "the server should have answered with a gzip body"
    assert titles(wire.items()) == {title for _, title, _, _ in feed}


def test_changed_entry_is_updated_in_place(wire: Wire, feed_server: FeedServer) -> None:
    feed = entries("beta", 2)
    url = feed_server.serve("/beta.xml", rss(feed), etag='"v1"')
    wire.add(url)
    wire.ok("poll")
    (before,) = [i for i in wire.items() if i["link"] == feed[0][2]]

    guid, _, link, date = feed[0]
    corrected = "Beta desk corrects its harbour traffic report"
    feed_server.update("/beta.xml", body=rss([(guid, corrected, link, date), feed[1]]), etag='"v2"')
    result = wire.run("poll", "--all")

    assert poll_counts(result) == {"polled": 1, "new": 0, "updated": 1, "not_modified": 0, "failed": 0}
    items = wire.items()
    assert len(items) == 2
    (after,) = [i for i in items if i["link"] == link]
    assert after["id"] == before["id"]
    assert after["title"] == corrected
    assert after["published"] == before["published"]
    assert parse_iso(after["updated"]) > parse_iso(before["updated"])
    merged = wire.feed_file().read_text(encoding="utf-8")
    assert corrected in merged
    assert feed[0][1] not in merged
    # The new validator was stored: the next poll sends it and gets a 304.
    third = wire.run("poll", "--all")
    assert poll_counts(third)["not_modified"] == 1
    assert feed_server.requests_for("/beta.xml")[-1].header("if-none-match") == '"v2"'


def test_identical_body_without_validators_is_skipped_then_new_entries_are_stored(
    wire: Wire, feed_server: FeedServer
) -> None:
    feed = entries("gamma", 2)
    url = feed_server.serve("/gamma.xml", rss(feed))
    wire.add(url)
    wire.ok("poll")

    same = wire.run("poll", "--all")

    assert poll_counts(same) == {"polled": 1, "new": 0, "updated": 0, "not_modified": 1, "failed": 0}
    second_request = feed_server.requests_for("/gamma.xml")[1]
    assert second_request.status == 200
    assert second_request.header("if-none-match") is None
    assert second_request.header("if-modified-since") is None
    assert len(wire.items()) == 2

    fresh = ("gamma-new", "Gamma desk reports a new ferry timetable", "https://gamma.example/new", minutes_ago(1))
    feed_server.update("/gamma.xml", body=rss([*feed, fresh]))
    changed = wire.run("poll", "--all")

    assert poll_counts(changed) == {"polled": 1, "new": 1, "updated": 0, "not_modified": 0, "failed": 0}
    assert titles(wire.items()) == {title for _, title, _, _ in [*feed, fresh]}


def test_guid_repeated_in_one_feed_is_one_item_and_does_not_flip_flop(wire: Wire, feed_server: FeedServer) -> None:
    duplicated = [
        ("dup", "First copy of the lighthouse story", "https://delta.example/dup-1", minutes_ago(30)),
        ("solo", "Tram line extension opens to passengers", "https://delta.example/solo", minutes_ago(20)),
        ("dup", "Second copy of the lighthouse story", "https://delta.example/dup-2", minutes_ago(10)),
    ]
    url = feed_server.serve("/delta.xml", rss(duplicated))
    wire.add(url)

    first = wire.run("poll")

    assert poll_counts(first)["new"] == 2
    items = wire.items()
    assert len(items) == 2
    (kept,) = [i for i in items if "lighthouse" in i["title"]]

    for number in (1, 2):
        # Other bytes of the feed change; the repeated guid must not swing between its two copies.
        extra = (f"more-{number}", f"Harbour pilot boat number {number} renamed", None, minutes_ago(5))
        feed_server.update("/delta.xml", body=rss([*duplicated, extra]))
        again = wire.run("poll", "--all")
        assert poll_counts(again) == {"polled": 1, "new": 1, "updated": 0, "not_modified": 0, "failed": 0}
        (still,) = [i for i in wire.items() if "lighthouse" in i["title"]]
        assert (still["id"], still["title"], still["updated"]) == (kept["id"], kept["title"], kept["updated"])


# One poll where most sources fail, each in its own way, after a first poll where all worked.


@dataclass(frozen=True)
class FailureRun:
    wire: Wire
    urls: dict[str, str]
    before: dict[str, int]
    result: Any
    seconds: float
    sources: dict[str, dict[str, Any]]
    items: list[dict[str, Any]]
    good_new: tuple[Any, ...]


FAILURES = {
    # kind: (expected last_status, pattern the error must match)
    "http-500": (500, r"\b500\b"),
    "slow": (None, r"(?i)time|within \d"),
    "garbage": (200, r"(?i)not an? (rss|atom|feed)|not (valid )?xml|cannot be parsed|could not be parsed"),
    "html": (200, r"(?i)\bhtml\b"),
    "refused": (None, r"(?i)refused|cannot connect|connect"),
}


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FailureRun]:
    folder: Path = tmp_path_factory.mktemp("failures")
    wire = Wire(folder)
    with FeedServer() as server, FeedServer() as doomed:
        urls = {"good": server.serve("/good.xml", rss(entries("good", 2)))}
        for kind in ("http-500", "slow", "garbage", "html"):
            urls[kind] = server.serve(f"/{kind}.xml", rss(entries(kind.replace("-", ""), 1)))
        urls["refused"] = doomed.serve("/refused.xml", rss(entries("refused", 1)))
        wire.add_many(*urls.values())
        first = wire.run("poll", "--all")
        assert poll_counts(first)["failed"] == 0, first.stdout
        before = {url: source["item_count"] for url, source in wire.sources().items()}

        good_new = (
            "good-new",
            "Good desk files a fresh report on the regatta",
            "https://good.example/n",
            minutes_ago(1),
        )
        server.update("/good.xml", body=rss([*entries("good", 2), good_new]))
        server.update("/http-500.xml", status=500)
        server.update("/slow.xml", delay=8.0)
        server.update("/garbage.xml", body=b"this is { not a feed at all ]]>", content_type="application/xml")
        server.update(
            "/html.xml",
            body=b"<!DOCTYPE html><html><head><title>Welcome</title></head><body>Hi</body></html>",
            content_type="text/html; charset=utf-8",
        )
        doomed.close()

        started = time.monotonic()
        result = wire.run("poll", "--all")
        seconds = time.monotonic() - started
        listed, items = wire.run_parallel(["list", "--json"], ["items", "--json", "--limit", "1000"])
        yield FailureRun(
            wire,
            urls,
            before,
            result,
            seconds,
            {s["url"]: s for s in json.loads(listed.stdout)},
            json.loads(items.stdout),
            good_new,
        )


def test_failing_sources_do_not_stop_the_others(failures: FailureRun) -> None:
    assert failures.result.returncode == 0, failures.result.stderr
    counts = poll_counts(failures.result)
    assert counts["polled"] == 6
    assert counts["failed"] == len(FAILURES)
    assert counts["new"] == 1
    assert failures.good_new[1] in titles(failures.items)
    good = failures.sources[failures.urls["good"]]
    assert good["last_error"] is None
    assert good["item_count"] == failures.before[failures.urls["good"]] + 1


def test_slow_source_is_cut_off_by_the_timeout(failures: FailureRun) -> None:
    # The slow server answers after 8 s; [poll] timeout is 2 s, so the whole poll is far quicker.
    assert failures.seconds < 7, f"poll took {failures.seconds:.1f} s"


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_failure_is_reported_and_stored_and_keeps_items(failures: FailureRun, kind: str) -> None:
    status, pattern = FAILURES[kind]
    url = failures.urls[kind]
    lines = [line for line in failures.result.stdout.splitlines() if url in line]
    assert len(lines) == 1, f"the summary should name {url} once: {failures.result.stdout!r}"
    assert "fail" in lines[0].lower()
    assert re.search(pattern, lines[0].split(url, 1)[1]), lines[0]
    source = failures.sources[url]
    assert source["last_error"] and re.search(pattern, source["last_error"]), source["last_error"]
    assert source["last_status"] == status
    assert source["item_count"] == failures.before[url] == 1
    assert sum(1 for item in failures.items if item["source_id"] == source["id"]) == 1


def test_body_over_max_bytes_is_refused(wire: Wire, feed_server: FeedServer) -> None:
    limit = 20_000
    wire.configure(poll={"max_bytes": limit})
    big = rss(entries("big", 200))
    assert len(big) > limit
    padding = "Lorem ipsum harbour news. " * 20_000
    bomb = rss([("bomb-1", "Compressed report that expands a lot", "https://bomb.example/1", minutes_ago(3), padding)])
    small = entries("small", 2)
    urls = {
        "big": feed_server.serve("/big.xml", big),
        "bomb": feed_server.serve("/bomb.xml", bomb, gzip=True),
        "small": feed_server.serve("/small.xml", rss(small)),
    }
    wire.add_many(*urls.values())

    result = wire.run("poll")

    assert result.returncode == 0, result.stderr
    counts = poll_counts(result)
    assert (counts["failed"], counts["new"]) == (2, 2)
    # The compressed body is far under the limit; only counting while decompressing catches it.
    assert feed_server.requests_for("/bomb.xml")[0].gzipped
    sources = wire.sources()
    for kind in ("big", "bomb"):
        source = sources[urls[kind]]
        assert source["item_count"] == 0
        assert re.search(r"(?i)limit|too (large|big)|larger|max_bytes", source["last_error"] or ""), source
        assert any(urls[kind] in line and "fail" in line.lower() for line in result.stdout.splitlines())
    assert sources[urls["small"]]["item_count"] == 2


def test_redirects_are_followed_up_to_a_limit(wire: Wire, feed_server: FeedServer) -> None:
    short = entries("short", 2)
    feed_server.serve("/short-target.xml", rss(short))
    start_short = feed_server.redirect("/short-1", "/short-2", status=301)
    feed_server.redirect("/short-2", "/short-target.xml", status=302)
    feed_server.serve("/long-target.xml", rss(entries("long", 2)))
    start_long = feed_server.redirect("/long-1", "/long-2")
    for hop in range(2, 8):
        feed_server.redirect(f"/long-{hop}", f"/long-{hop + 1}" if hop < 7 else "/long-target.xml")
    wire.add_many(start_short, start_long)

    result = wire.run("poll")

    assert result.returncode == 0, result.stderr
    sources = wire.sources()
    assert sources[start_short]["item_count"] == 2
    assert sources[start_short]["last_error"] is None
    assert titles(wire.items("--source", start_short)) == {title for _, title, _, _ in short}
    assert sources[start_long]["item_count"] == 0
    assert "redirects" in (sources[start_long]["last_error"] or ""), sources[start_long]
    assert feed_server.requests_for("/long-target.xml") == []
    assert poll_counts(result)["failed"] == 1


def test_poll_named_sources_polls_only_those(wire: Wire, feed_server: FeedServer) -> None:
    first = feed_server.serve("/first.xml", rss(entries("first", 2)))
    second = feed_server.serve("/second.xml", rss(entries("second", 3)))
    first_id, _ = wire.add_many(first, second)

    by_id = wire.run("poll", str(first_id))

    assert poll_counts(by_id) == {"polled": 1, "new": 2, "updated": 0, "not_modified": 0, "failed": 0}
    assert [r.path for r in feed_server.log] == ["/first.xml"]

    by_url = wire.run("poll", second)

    assert poll_counts(by_url) == {"polled": 1, "new": 3, "updated": 0, "not_modified": 0, "failed": 0}
    assert [r.path for r in feed_server.log] == ["/first.xml", "/second.xml"]


def test_plain_poll_only_polls_due_sources(wire: Wire, feed_server: FeedServer) -> None:
    url = feed_server.serve("/due.xml", rss(entries("due", 2)))
    wire.add(url)

    first = wire.run("poll")
    second = wire.run("poll")

    assert poll_counts(first)["polled"] == 1
    assert second.returncode == 0, second.stderr
    assert poll_counts(second) == {"polled": 0, "new": 0, "updated": 0, "not_modified": 0, "failed": 0}
    assert len(feed_server.requests_for("/due.xml")) == 1
    next_fetch = wire.sources()[url]["next_fetch_at"]
    assert next_fetch is not None and parse_iso(next_fetch) > now_utc()


@pytest.mark.parametrize("name", ["http://127.0.0.1:9/not-subscribed.xml", "4242"])
def test_poll_unknown_source_exits_1(wire: Wire, feed_server: FeedServer, name: str) -> None:
    url = feed_server.serve("/known.xml", rss(entries("known", 1)))
    wire.add(url)

    result = wire.run("poll", name)

    assert result.returncode == 1
    assert name in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert feed_server.log == []


def test_undated_item_gets_first_seen_time_and_future_date_is_clamped(wire: Wire, feed_server: FeedServer) -> None:
    dated_at = minutes_ago(40)
    feed = [
        ("dated", "Dated report on the bridge repairs", "https://eps.example/dated", dated_at),
        ("undated", "Undated report on the ferry strike", "https://eps.example/undated", None),
        (
            "future",
            "Report dated two days ahead by mistake",
            "https://eps.example/future",
            now_utc() + timedelta(days=2),
        ),
    ]
    url = feed_server.serve("/dates.xml", rss(feed))
    wire.add(url)

    started = now_utc()
    wire.ok("poll")
    finished = now_utc()

    by_link = {item["link"]: item for item in wire.items()}
    assert by_link["https://eps.example/dated"]["published"] == iso(dated_at)
    for link in ("https://eps.example/undated", "https://eps.example/future"):
        published = parse_iso(by_link[link]["published"])
        assert started <= published <= finished, (link, published, started, finished)
        assert parse_iso(by_link[link]["updated"]) <= finished
