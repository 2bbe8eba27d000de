"""Fetch guards: redirect targets are checked hop by hop, and `[poll] block_private` keeps
sources and redirects away from loopback, private, link-local and metadata addresses."""

from __future__ import annotations

import pytest
from conftest import Wire, minutes_ago, rss
from fakes import aggregator_for
from feedserver import FeedServer

from aggregator.exceptions import InvalidURLError
from aggregator.identity import refused_target


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/feed", "http://10.1.2.3/feed", "http://169.254.169.254/latest/meta-data", "http://[::1]/x"],
)
def test_private_literal_addresses_are_refused_only_when_blocked(url: str) -> None:
    assert refused_target(url, block_private=False) is None
    refusal = refused_target(url, block_private=True)
    assert refusal is not None
    assert "block_private" in refusal


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/feed", "data:text/xml,<rss/>"])
def test_other_schemes_are_always_refused(url: str) -> None:
    refusal = refused_target(url, block_private=False)
    assert refusal is not None
    assert "only http and https" in refusal


def test_a_public_name_is_left_to_the_resolver() -> None:
    assert refused_target("https://feeds.example.com/rss", block_private=True) is None


def entries(prefix: str) -> list[tuple[str, str, str, object]]:
    return [
        (f"urn:{prefix}:{n}", f"{prefix} desk story {n}", f"https://{prefix}.example/{n}", minutes_ago(n))
        for n in range(2)
    ]


def test_redirect_to_a_file_url_is_refused_and_nothing_is_read(wire: Wire, feed_server: FeedServer) -> None:
    url = feed_server.redirect("/sneaky.xml", "file:///etc/passwd", status=302)
    good = feed_server.serve("/good.xml", rss(entries("good")))
    with aggregator_for(wire.config) as aggregator:  # the real fetcher, at the wall clock's time
        aggregator.add_source(url)
        aggregator.add_source(good)

        aggregator.poll()

        listed = {source.url: source for source in aggregator.sources()}
        assert "only http and https" in (listed[url].last_error or "")
        assert listed[good].item_count == 2
        assert "root:" not in repr(aggregator.items(limit=1000))


def test_block_private_refuses_loopback_sources_at_add_and_at_poll(wire: Wire, feed_server: FeedServer) -> None:
    url = feed_server.serve("/local.xml", rss(entries("local")))
    with aggregator_for(wire.config) as aggregator:
        aggregator.add_source(url)  # allowed while block_private is off

    wire.configure(poll={"timeout": 2, "block_private": True})
    with aggregator_for(wire.config) as aggregator:
        with pytest.raises(InvalidURLError, match="block_private"):
            aggregator.add_source(feed_server.url("/other.xml"))

        aggregator.poll()

        [source] = aggregator.sources()
        assert "block_private" in (source.last_error or "")
        assert source.item_count == 0
    assert feed_server.requests_for("/local.xml") == []


def test_add_of_a_loopback_url_under_block_private_exits_2_naming_the_setting(wire: Wire) -> None:
    wire.configure(poll={"timeout": 2, "block_private": True})

    refused = wire.run("add", "http://127.0.0.1:9/feed.xml")

    assert refused.returncode == 2
    assert "block_private" in refused.stderr
    assert "Traceback" not in refused.stderr
