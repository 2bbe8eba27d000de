"""`fetch.fetch_all` called directly against a loopback server: what each FetchResult says of a
conditional GET (the stored validators sent, a 304), of the size cap at its bound, of redirects
(`moved_to` only for a chain of permanent ones), of HTTP errors and refused connections, and of a
consumer that takes the body. The CLI's view of the same (stored errors, hostile servers) is in
tests/test_poll.py, tests/test_fetch_guards.py and tests/test_hostile.py."""

from __future__ import annotations

import asyncio
import gzip

from conftest import rss
from feedserver import FeedServer, closed_port

from aggregator.config import PollSettings
from aggregator.fetch import USER_AGENT, fetch_all
from aggregator.types import FetchResult, Source

SETTINGS = PollSettings(timeout=5)
DOCUMENT = rss([("a", "Harbour cranes idle", "https://wire.example/a", None)])
LAST_MODIFIED = "Fri, 20 Nov 2026 11:00:00 GMT"


def fetch(*sources: Source, settings: PollSettings = SETTINGS) -> list[FetchResult]:
    return asyncio.run(fetch_all(sources, settings))


def test_a_first_fetch_sends_no_validators_and_returns_the_new_ones(feed_server: FeedServer) -> None:
    url = feed_server.serve("/feed.xml", DOCUMENT, etag='"v1"', last_modified=LAST_MODIFIED)

    [result] = fetch(Source(1, url))

    assert (result.status, result.body, result.error, result.moved_to) == (200, DOCUMENT, None, None)
    assert (result.etag, result.last_modified, result.final_url) == ('"v1"', LAST_MODIFIED, url)
    [request] = feed_server.requests_for("/feed.xml")
    assert request.header("if-none-match") is None and request.header("if-modified-since") is None
    assert request.header("user-agent") == USER_AGENT


def test_a_conditional_get_sends_the_stored_validators_and_returns_304(feed_server: FeedServer) -> None:
    url = feed_server.serve("/feed.xml", DOCUMENT, etag='"v1"', last_modified=LAST_MODIFIED)

    [result] = fetch(Source(1, url, etag='"v1"', last_modified=LAST_MODIFIED))

    assert (result.status, result.not_modified, result.body, result.error) == (304, True, None, None)
    [request] = feed_server.requests_for("/feed.xml")
    assert (request.header("if-none-match"), request.header("if-modified-since")) == ('"v1"', LAST_MODIFIED)
    assert request.status == 304


def test_a_stale_validator_gets_the_new_body(feed_server: FeedServer) -> None:
    url = feed_server.serve("/feed.xml", DOCUMENT, etag='"v2"')

    [result] = fetch(Source(1, url, etag='"v1"'))

    assert (result.status, result.body, result.etag) == (200, DOCUMENT, '"v2"')


def test_a_body_at_the_size_cap_is_read_and_one_byte_more_is_refused(feed_server: FeedServer) -> None:
    limit = 2_000
    exact = feed_server.serve("/exact.xml", b"x" * limit)
    over = feed_server.serve("/over.xml", b"x" * (limit + 1))
    zipped = feed_server.serve("/zipped.xml", b"x" * (limit + 1), gzip=True)

    results = fetch(Source(1, exact), Source(2, over), Source(3, zipped), settings=PollSettings(max_bytes=limit))

    assert [len(r.body or b"") for r in results] == [limit, 0, 0]
    assert results[0].error is None
    for result in results[1:]:
        assert result.error == "the response is larger than the 2,000-byte limit"
        assert result.status == 200
    assert len(gzip.compress(b"x" * (limit + 1))) < limit, "the compressed body alone is under the cap"


def test_a_permanent_redirect_is_followed_and_says_where_the_feed_moved(feed_server: FeedServer) -> None:
    target = feed_server.serve("/new.xml", DOCUMENT)
    moved = feed_server.redirect("/old.xml", "/new.xml", status=301)
    also_moved = feed_server.redirect("/old2.xml", "/new.xml", status=308)

    first, second = fetch(Source(1, moved), Source(2, also_moved))

    for result, url in ((first, moved), (second, also_moved)):
        assert (result.url, result.final_url, result.moved_to) == (url, target, target)
        assert (result.status, result.body, result.error) == (200, DOCUMENT, None)


def test_a_temporary_redirect_is_followed_without_moving_the_feed(feed_server: FeedServer) -> None:
    target = feed_server.serve("/new.xml", DOCUMENT)
    temporary = feed_server.redirect("/temporary.xml", "/new.xml", status=302)
    feed_server.redirect("/hop.xml", "/new.xml", status=302)
    mixed = feed_server.redirect("/mixed.xml", "/hop.xml", status=301)

    first, second = fetch(Source(1, temporary), Source(2, mixed))

    for result in (first, second):
        assert (result.final_url, result.moved_to, result.body) == (target, None, DOCUMENT)
    assert [r.status for r in feed_server.log if r.path in ("/mixed.xml", "/hop.xml")] == [301, 302]


def test_an_http_error_and_a_refused_connection_are_results_not_exceptions(feed_server: FeedServer) -> None:
    missing = feed_server.url("/missing.xml")
    nobody = f"http://127.0.0.1:{closed_port()}/feed.xml"

    gone, refused = fetch(Source(1, missing), Source(2, nobody))

    assert (gone.status, gone.error, gone.body) == (404, "HTTP 404 Not Found", None)
    assert refused.status is None
    assert refused.error is not None and refused.error.startswith("cannot connect to 127.0.0.1:")


def test_a_consumed_body_is_not_kept_and_results_keep_the_order_of_the_sources(feed_server: FeedServer) -> None:
    slow = feed_server.serve("/slow.xml", DOCUMENT, delay=0.3)
    quick = feed_server.serve("/quick.xml", DOCUMENT)
    seen: list[tuple[str, bytes | None]] = []

    async def consume(result: FetchResult) -> None:
        seen.append((result.url, result.body))

    results = asyncio.run(fetch_all([Source(1, slow), Source(2, quick)], SETTINGS, consume))

    assert [r.url for r in results] == [slow, quick]
    assert [r.body for r in results] == [None, None], "a body handed to the consumer is not kept"
    assert sorted(seen) == sorted([(slow, DOCUMENT), (quick, DOCUMENT)])
