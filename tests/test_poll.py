"""Integration tests of `offthewire poll`: a real HTTP server, a real SQLite file, the real CLI.

Two scenarios are run once per module and examined by several tests (a CLI run costs half a
second, so each scenario polls many sources at once):

- `repolls`: six healthy sources polled three times, with content changed between polls
  (conditional GETs, hash skipping, updates in place, repeated guids, gzip, dates).
- `failures`: sources that work on the first poll and then fail in every way a server can fail
  (and some that never work: too big, too many redirects), beside a source that keeps working.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from conftest import Wire, http_date, iso, minutes_ago, now_utc, parse_iso, poll_counts, rss, wait_until_after
from feedserver import FeedServer

WEAK_ETAG = 'W/"abc-123:x=1+/;"'


# Headline words: none is a topic keyword, a stop word, a number or a name.
VOCABULARY = """
    lantern quarry velvet orchard pylon meadow tractor cinder glacier walnut falcon harbour
    ferry tunnel beacon canal granary mill pottery bakery garden vineyard lighthouse wharf
    ribbon saddle anchor compass kettle ladder mirror needle pillow rocket shovel ticket
    violin whistle blanket candle drum feather hammer jacket kayak lemon marble nutmeg
    oyster pepper quill raisin sapphire thimble umbrella walrus yarn zephyr acorn bramble
    cobble dune ember fjord grove heron island juniper knoll lagoon moss nettle otter
    pebble quartz reef spruce thistle tundra valley willow badger crane dormouse egret
    ferret gannet hedgehog ibis jackdaw kestrel linnet magpie newt osprey puffin raven
    stoat toad vole wren archive bridge council museum parade regatta stadium theatre tramway
""".split()


def headline(seed: str) -> str:
    """Six words no other headline of the tests shares enough of to be taken for the same story."""
    words = random.Random(seed).sample(VOCABULARY, 6)
    return " ".join(words).capitalize()


def entries(prefix: str, count: int) -> list[tuple[Any, ...]]:
    """`count` entries five minutes apart, the newest last and 30 minutes old, with distinct headlines."""
    start_minutes = 5 * count + 25
    return [
        (
            f"{prefix}-{n}",
            headline(f"{prefix}-{n}"),
            f"https://{prefix}.example/news/{n}",
            minutes_ago(start_minutes - 5 * n),
        )
        for n in range(count)
    ]


def titles(items: list[dict[str, Any]]) -> set[str]:
    return {item["title"] for item in items}


def of_source(items: list[dict[str, Any]], source_id: int) -> list[dict[str, Any]]:
    return [item for item in items if item["source_id"] == source_id]


def read_state(wire: Wire) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """`list --json` (by URL) and `items --json`, read at the same time."""
    listed, items = wire.run_parallel(["list", "--json"], ["items", "--json", "--limit", "1000"])
    assert listed.returncode == 0, listed.stderr
    assert items.returncode == 0, items.stderr
    return {s["url"]: s for s in json.loads(listed.stdout)}, json.loads(items.stdout)


# Scenario 1: healthy sources polled three times.


@dataclass
class Repolls:
    wire: Wire
    server: FeedServer
    urls: dict[str, str]
    ids: dict[str, int]
    feeds: dict[str, list[tuple[Any, ...]]]
    polls: list[CompletedProcess[str]] = field(default_factory=list)
    sources: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    items: list[list[dict[str, Any]]] = field(default_factory=list)
    first_poll_window: tuple[datetime, datetime] = (datetime.min, datetime.min)
    last_modified: dict[str, str] = field(default_factory=dict)

    def requests(self, name: str) -> list[Any]:
        return self.server.requests_for(f"/{name}.xml")


CORRECTED = "Correction issued over the misreported dockside crane collapse"
DUPLICATED = [
    ("dup", "First copy of the lighthouse story", "https://dup.example/dup-1", minutes_ago(30)),
    ("solo", "Tram line extension opens to passengers", "https://dup.example/solo", minutes_ago(20)),
    ("dup", "Second copy of the lighthouse story", "https://dup.example/dup-2", minutes_ago(10)),
]


def _extra(name: str, number: int) -> tuple[Any, ...]:
    return (
        f"{name}-extra-{number}",
        headline(f"{name}-extra-{number}"),
        f"https://{name}.example/extra/{number}",
        minutes_ago(5 - number),
    )


@pytest.fixture(scope="module")
def repolls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repolls]:
    wire = Wire(tmp_path_factory.mktemp("repolls"))
    with FeedServer() as server:
        dated_at = minutes_ago(40)
        feeds = {
            "etag": entries("etag", 3),
            "date": entries("date", 2),
            "plain": entries("plain", 2),
            "change": entries("change", 2),
            "dup": list(DUPLICATED),
            "dates": [
                ("dated", "Dated report on the bridge repairs", "https://dates.example/dated", dated_at),
                ("undated", "Undated report on the ferry strike", "https://dates.example/undated", None),
                (
                    "future",
                    "Report dated two days ahead by mistake",
                    "https://dates.example/future",
                    now_utc() + timedelta(days=2),
                ),
            ],
        }
        last_modified = {"etag": http_date(minutes_ago(30)), "date": http_date(minutes_ago(45))}
        options: dict[str, dict[str, Any]] = {
            "etag": {"etag": WEAK_ETAG, "last_modified": last_modified["etag"], "gzip": True},
            "date": {"last_modified": last_modified["date"]},
            "change": {"etag": '"v1"'},
        }
        urls = {name: server.serve(f"/{name}.xml", rss(feed), **options.get(name, {})) for name, feed in feeds.items()}
        ids = dict(zip(urls, wire.add_many(*urls.values()), strict=True))
        run = Repolls(wire, server, urls, ids, feeds, last_modified=last_modified)

        def poll() -> None:
            run.polls.append(wire.run("poll", "--all"))
            sources, items = read_state(wire)
            run.sources.append(sources)
            run.items.append(items)

        started = now_utc()
        poll()
        run.first_poll_window = (started, now_utc())

        # Second poll: one entry corrected (new ETag), other bytes of the repeated-guid feed
        # changed, everything else served exactly as before.
        guid, _, link, date = feeds["change"][0]
        server.update("/change.xml", body=rss([(guid, CORRECTED, link, date), feeds["change"][1]]), etag='"v2"')
        server.update("/dup.xml", body=rss([*DUPLICATED, _extra("dup", 1)]))
        run.polls.append(wire.run("poll", "--all"))
        run.items.append(json.loads(wire.ok("items", "--json", "--limit", "1000")))

        # Third poll: the server without validators gets a new entry; the repeated-guid feed changes again.
        server.update("/plain.xml", body=rss([*feeds["plain"], _extra("plain", 1)]))
        server.update("/dup.xml", body=rss([*DUPLICATED, _extra("dup", 1), _extra("dup", 2)]))
        poll()
        yield run


def test_first_poll_stores_every_entry_and_says_so(repolls: Repolls) -> None:
    first = repolls.polls[0]
    total = sum(len(feed) for feed in repolls.feeds.values()) - 1  # the repeated guid is one item
    assert poll_counts(first) == {"polled": 6, "new": total, "updated": 0, "not_modified": 0, "failed": 0}
    items = repolls.items[0]
    for name, feed in repolls.feeds.items():
        source = repolls.sources[0][repolls.urls[name]]
        assert source["last_status"] == 200
        assert source["last_error"] is None
        assert source["last_fetched_at"] is not None
        stored = of_source(items, repolls.ids[name])
        assert source["item_count"] == len(stored)
        if name != "dup":
            assert titles(stored) == {title for _, title, _, _ in feed}
            assert {item["link"] for item in stored} == {link for _, _, link, _ in feed}


def test_requests_identify_the_client_and_accept_gzip(repolls: Repolls) -> None:
    for exchange in repolls.server.log:
        assert (exchange.header("user-agent") or "").startswith("offthewire/")
        assert "gzip" in (exchange.header("accept-encoding") or "").lower()
    first = repolls.requests("etag")[0]
    assert first.gzipped, "the server should have answered the first poll with a gzip body"
    assert titles(of_source(repolls.items[0], repolls.ids["etag"])) == {t for _, t, _, _ in repolls.feeds["etag"]}


def test_second_poll_echoes_validators_and_stores_nothing_on_304(repolls: Repolls) -> None:
    etag_requests, date_requests = repolls.requests("etag"), repolls.requests("date")
    assert [r.status for r in etag_requests] == [200, 304, 304]
    assert [r.status for r in date_requests] == [200, 304, 304]
    # The first request has nothing to send back; the later ones echo the validators byte for byte.
    assert etag_requests[0].header("if-none-match") is None
    assert etag_requests[0].header("if-modified-since") is None
    for request in etag_requests[1:]:
        assert request.header("if-none-match") == WEAK_ETAG
        assert request.header("if-modified-since") == repolls.last_modified["etag"]
    for request in date_requests[1:]:
        assert request.header("if-none-match") is None
        assert request.header("if-modified-since") == repolls.last_modified["date"]
    for name in ("etag", "date"):
        counts = [sources[repolls.urls[name]]["item_count"] for sources in repolls.sources]
        assert counts == [len(repolls.feeds[name])] * 2
        assert [of_source(items, repolls.ids[name]) for items in repolls.items[1:]] == [
            of_source(repolls.items[0], repolls.ids[name])
        ] * 2


def test_summary_counts_not_modified_updated_and_new(repolls: Repolls) -> None:
    # Poll 2: etag, date (304) and plain (same bytes) not modified; change updated; dup one new.
    assert poll_counts(repolls.polls[1]) == {"polled": 6, "new": 1, "updated": 1, "not_modified": 4, "failed": 0}
    # Poll 3: etag, date, change (304) and dates (same bytes) not modified; plain and dup one new each.
    assert poll_counts(repolls.polls[2]) == {"polled": 6, "new": 2, "updated": 0, "not_modified": 4, "failed": 0}


def test_changed_entry_is_updated_in_place(repolls: Repolls) -> None:
    source_id = repolls.ids["change"]
    link = repolls.feeds["change"][0][2]
    (before,) = [i for i in of_source(repolls.items[0], source_id) if i["link"] == link]
    after_items = of_source(repolls.items[1], source_id)
    assert len(after_items) == 2
    (after,) = [i for i in after_items if i["link"] == link]
    assert after["id"] == before["id"]
    assert after["title"] == CORRECTED
    assert after["published"] == before["published"]
    assert parse_iso(after["updated"]) > parse_iso(before["updated"])
    merged = repolls.wire.feed_file().read_text(encoding="utf-8")
    assert CORRECTED in merged
    assert repolls.feeds["change"][0][1] not in merged


def test_new_validator_is_stored_and_sent_next_time(repolls: Repolls) -> None:
    requests = repolls.requests("change")
    assert [r.status for r in requests] == [200, 200, 304]
    assert [r.header("if-none-match") for r in requests] == [None, '"v1"', '"v2"']


def test_identical_body_without_validators_is_skipped_then_new_entry_stored(repolls: Repolls) -> None:
    requests = repolls.requests("plain")
    assert [r.status for r in requests] == [200, 200, 200]
    assert all(r.header("if-none-match") is None and r.header("if-modified-since") is None for r in requests)
    source_id = repolls.ids["plain"]
    assert of_source(repolls.items[1], source_id) == of_source(repolls.items[0], source_id)
    expected = {title for _, title, _, _ in [*repolls.feeds["plain"], _extra("plain", 1)]}
    assert titles(of_source(repolls.items[2], source_id)) == expected
    assert len(of_source(repolls.items[2], source_id)) == 3


def test_repeated_guid_is_one_item_and_does_not_flip_flop(repolls: Repolls) -> None:
    source_id = repolls.ids["dup"]
    kept = []
    for items in repolls.items:
        (copy,) = [i for i in of_source(items, source_id) if "lighthouse" in i["title"]]
        kept.append((copy["id"], copy["title"], copy["updated"]))
    assert kept[0][1] in {title for guid, title, _, _ in DUPLICATED if guid == "dup"}
    assert kept == [kept[0]] * 3
    assert [len(of_source(items, source_id)) for items in repolls.items] == [2, 3, 4]


def test_undated_item_gets_first_seen_time_and_future_date_is_clamped(repolls: Repolls) -> None:
    started, finished = repolls.first_poll_window
    by_link = {item["link"]: item for item in of_source(repolls.items[0], repolls.ids["dates"])}
    dated = repolls.feeds["dates"][0]
    assert by_link[dated[2]]["published"] == iso(dated[3])
    for link in ("https://dates.example/undated", "https://dates.example/future"):
        published = parse_iso(by_link[link]["published"])
        assert started <= published <= finished, (link, published, started, finished)
        assert parse_iso(by_link[link]["updated"]) <= finished


# Scenario 2: one poll in which most sources fail, after a first poll in which they worked.


@dataclass(frozen=True)
class FailureRun:
    urls: dict[str, str]
    first: CompletedProcess[str]
    result: CompletedProcess[str]
    seconds: float
    sources: dict[str, dict[str, Any]]
    items: list[dict[str, Any]]
    server: FeedServer


GOOD = entries("good", 2)
GOOD_NEW = ("good-new", headline("good-new"), "https://good.example/n", minutes_ago(1))
MAX_BYTES = 20_000

# kind: (last_status expected, pattern the error must match); these worked on the first poll.
BROKEN_LATER = {
    "http-500": (500, r"\b500\b"),
    "slow": (None, r"(?i)time|within \d"),
    "garbage": (200, r"(?i)not an? (rss|atom|feed)|not (valid )?xml|could not be parsed|cannot be parsed"),
    "html": (200, r"(?i)\bhtml\b"),
    "refused": (None, r"(?i)refused|cannot connect"),
}
# These never work: a body over [poll] max_bytes (plain, and gzip that only grows when
# decompressed) and a chain of seven redirects.
NEVER_WORKED = {
    "big": r"(?i)limit|too (large|big)|larger|max_bytes",
    "bomb": r"(?i)limit|too (large|big)|larger|max_bytes",
    "long-redirect": r"redirects",
}


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FailureRun]:
    folder: Path = tmp_path_factory.mktemp("failures")
    wire = Wire(folder)
    wire.configure(poll={"max_bytes": MAX_BYTES})
    with FeedServer() as server, FeedServer() as doomed:
        # The healthy source sits behind two redirects (301 then 302).
        server.serve("/good.xml", rss(GOOD))
        urls = {"good": server.redirect("/good-1", "/good-2", status=301)}
        server.redirect("/good-2", "/good.xml", status=302)
        for kind in ("http-500", "slow", "garbage", "html"):
            urls[kind] = server.serve(f"/{kind}.xml", rss(entries(kind.replace("-", ""), 1)))
        urls["refused"] = doomed.serve("/refused.xml", rss(entries("refused", 1)))
        big = rss(entries("big", 200))
        assert len(big) > MAX_BYTES
        padding = "Lorem ipsum harbour news. " * 20_000
        bomb = rss([("bomb-1", headline("bomb-1"), "https://bomb.example/1", minutes_ago(3), padding)])
        urls["big"] = server.serve("/big.xml", big)
        urls["bomb"] = server.serve("/bomb.xml", bomb, gzip=True)
        server.serve("/long-target.xml", rss(entries("long", 2)))
        urls["long-redirect"] = server.redirect("/long-1", "/long-2")
        for hop in range(2, 8):
            server.redirect(f"/long-{hop}", f"/long-{hop + 1}" if hop < 7 else "/long-target.xml")
        wire.add_many(*urls.values())
        first = wire.run("poll", "--all")

        server.update("/good.xml", body=rss([*GOOD, GOOD_NEW]))
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
        sources, items = read_state(wire)
        yield FailureRun(urls, first, result, seconds, sources, items, server)


def test_first_poll_reports_sources_that_never_work(failures: FailureRun) -> None:
    counts = poll_counts(failures.first)
    assert counts["polled"] == len(failures.urls)
    assert counts["failed"] == len(NEVER_WORKED)
    assert counts["new"] == len(GOOD) + len(BROKEN_LATER)  # one entry each for the sources that break later
    failed_lines = [line for line in failures.first.stdout.splitlines() if "fail" in line.lower() and "://" in line]
    assert sorted(url for url in failures.urls.values() if any(url in line for line in failed_lines)) == sorted(
        failures.urls[kind] for kind in NEVER_WORKED
    )


def test_failing_sources_do_not_stop_the_others(failures: FailureRun) -> None:
    counts = poll_counts(failures.result)
    assert counts["polled"] == len(failures.urls)
    assert counts["failed"] == len(BROKEN_LATER) + len(NEVER_WORKED)
    assert (counts["new"], counts["updated"]) == (1, 0)
    assert GOOD_NEW[1] in titles(failures.items)
    good = failures.sources[failures.urls["good"]]
    assert good["last_error"] is None
    assert good["item_count"] == len(GOOD) + 1


def test_slow_source_is_cut_off_by_the_timeout(failures: FailureRun) -> None:
    # The slow server answers after 8 s; [poll] timeout is 2 s, so the whole poll is far quicker.
    assert failures.seconds < 7, f"poll took {failures.seconds:.1f} s"


def _summary_line(result: CompletedProcess[str], url: str) -> str:
    lines = [line for line in result.stdout.splitlines() if url in line]
    assert len(lines) == 1, f"the summary should name {url} once: {result.stdout!r}"
    assert "fail" in lines[0].lower()
    return lines[0].split(url, 1)[1]


@pytest.mark.parametrize("kind", sorted(BROKEN_LATER))
def test_failure_is_reported_and_stored_and_keeps_items(failures: FailureRun, kind: str) -> None:
    status, pattern = BROKEN_LATER[kind]
    url = failures.urls[kind]
    assert re.search(pattern, _summary_line(failures.result, url))
    source = failures.sources[url]
    assert source["last_error"] and re.search(pattern, source["last_error"]), source["last_error"]
    assert source["last_status"] == status
    # It worked on the first poll (which stored its one entry); the failure loses nothing.
    assert source["item_count"] == 1
    assert len(of_source(failures.items, source["id"])) == 1


@pytest.mark.parametrize("kind", sorted(NEVER_WORKED))
def test_limits_are_enforced_with_a_clear_error(failures: FailureRun, kind: str) -> None:
    pattern = NEVER_WORKED[kind]
    url = failures.urls[kind]
    for result in (failures.first, failures.result):
        assert re.search(pattern, _summary_line(result, url))
    source = failures.sources[url]
    assert re.search(pattern, source["last_error"] or ""), source
    assert source["item_count"] == 0


def test_gzip_body_is_refused_while_decompressing(failures: FailureRun) -> None:
    # The compressed body is far under the limit: only counting while decompressing catches it.
    (first, *_) = failures.server.requests_for("/bomb.xml")
    assert first.gzipped


def test_short_redirect_chain_is_followed_and_long_one_is_not(failures: FailureRun) -> None:
    good = failures.sources[failures.urls["good"]]
    assert good["last_error"] is None
    assert titles(of_source(failures.items, good["id"])) == {t for _, t, _, _ in [*GOOD, GOOD_NEW]}
    assert [r.status for r in failures.server.log if r.path.startswith("/good")] == [301, 302, 200] * 2
    assert failures.server.requests_for("/long-target.xml") == []


# Which sources a poll picks.


def test_poll_picks_named_sources_then_only_due_ones(wire: Wire, feed_server: FeedServer) -> None:
    urls = [feed_server.serve(f"/{name}.xml", rss(entries(name, 2))) for name in ("first", "second", "third")]
    first_id, _, _ = wire.add_many(*urls)

    by_id = wire.run("poll", str(first_id))
    by_url = wire.run("poll", urls[1])
    # The two just polled are not due; the third never was polled, so it is.
    due = wire.run("poll")
    nothing_due = wire.run("poll")

    assert poll_counts(by_id) == {"polled": 1, "new": 2, "updated": 0, "not_modified": 0, "failed": 0}
    assert poll_counts(by_url) == {"polled": 1, "new": 2, "updated": 0, "not_modified": 0, "failed": 0}
    assert poll_counts(due) == {"polled": 1, "new": 2, "updated": 0, "not_modified": 0, "failed": 0}
    assert poll_counts(nothing_due) == {"polled": 0, "new": 0, "updated": 0, "not_modified": 0, "failed": 0}
    assert [r.path for r in feed_server.log] == ["/first.xml", "/second.xml", "/third.xml"]
    for source in wire.sources().values():
        assert source["next_fetch_at"] is not None and parse_iso(source["next_fetch_at"]) > now_utc()


def test_a_304_after_a_failure_clears_the_error_and_the_backoff(wire: Wire, feed_server: FeedServer) -> None:
    # A 304 writes only the health fields that changed: after a failure, all of them.
    url = feed_server.serve("/steady.xml", rss(entries("steady", 3)), etag='"v1"')
    source_id = str(wire.add(url))
    wire.run("poll")
    healthy = wire.sources()[url] | wire.json("explain", source_id)
    feed_server.update("/steady.xml", status=503)
    wire.run("poll", source_id)
    failed = wire.sources()[url] | wire.json("explain", source_id)
    feed_server.update("/steady.xml", status=200)
    # The CLI's times are whole seconds: the recovery must stamp a later one than the failure did.
    wait_until_after(parse_iso(failed["last_fetched_at"]))
    recovered_poll = wire.run("poll", source_id)

    assert failed["error_count"] == 1 and "503" in failed["last_error"]
    assert "backing off" in failed["reason"]
    assert poll_counts(recovered_poll)["not_modified"] == 1
    assert [r.status for r in feed_server.requests_for("/steady.xml")] == [200, 503, 304]
    recovered = wire.sources()[url] | wire.json("explain", source_id)
    assert (recovered["error_count"], recovered["last_error"], recovered["last_status"]) == (0, None, 304)
    assert (recovered["reason"], recovered["considered"]) == (healthy["reason"], healthy["considered"])
    assert recovered["etag"] == healthy["etag"]
    assert parse_iso(recovered["last_fetched_at"]) > parse_iso(failed["last_fetched_at"])


def test_etag_with_latin1_bytes_is_stored_and_never_sent_mangled(wire: Wire, feed_server: FeedServer) -> None:
    # RFC 9110 allows obs-text (bytes 0x80-0xFF) inside an entity tag. aiohttp writes request headers
    # as UTF-8, so such a tag cannot be echoed byte for byte: it is kept, not sent, and the poll
    # still gets its 304 through If-Modified-Since.
    etag = '"caf\xe9-\xff"'
    modified = "Sat, 28 Nov 2026 10:00:00 GMT"
    odd = feed_server.serve("/latin.xml", rss(entries("latin", 2)), etag=etag, last_modified=modified)
    plain = feed_server.serve("/ascii.xml", rss(entries("ascii", 1)))
    wire.add_many(odd, plain)

    first = wire.run("poll")
    second = wire.run("poll", "--all")

    assert poll_counts(first) == {"polled": 2, "new": 3, "updated": 0, "not_modified": 0, "failed": 0}
    assert poll_counts(second)["not_modified"] == 2
    requests = feed_server.requests_for("/latin.xml")
    assert [r.status for r in requests] == [200, 304]
    assert requests[1].header("if-none-match") is None
    assert requests[1].header("if-modified-since") == modified
    listed = {s["url"]: s for s in json.loads(wire.run("list", "--json").stdout)}
    assert listed[odd]["etag"] == '"caf\ufffd-\ufffd"'


def test_poll_unknown_source_exits_1(wire: Wire, feed_server: FeedServer) -> None:
    wire.add(feed_server.serve("/known.xml", rss(entries("known", 1))))
    names = ["http://127.0.0.1:9/not-subscribed.xml", "4242"]

    results = wire.run_parallel(*(["poll", name] for name in names))

    for name, result in zip(names, results, strict=True):
        assert result.returncode == 1, result
        assert name in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
    assert feed_server.log == []
