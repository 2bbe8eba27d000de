"""Integration tests of the HTTP service: one real daemon (module-scoped) over a real feed server.

Every source is added with `--every 60`, so after the first tick nothing is due and the database
holds still: the tests only read, and one of them checks that reading never writes.
"""

from __future__ import annotations

import gzip
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import lxml.html
import pytest
from conftest import Wire, atom, now_utc
from daemon_helpers import RunningDaemon, configure, free_port, wait_for
from feedserver import FeedServer
from markupsafe import escape
from prometheus_client.parser import text_string_to_metric_families

ATOM_TYPE = "application/atom+xml; charset=utf-8"
MERGED = "/feeds/off-the-wire.atom"
EVIL_NAME = "Evil <script>alert(1)</script> & Sons"
# An Atom text title: the headline is this text, tag and ampersand included, for the page to escape.
EVIL_HEADLINE = "Tom & Jerry <script>alert(1)</script> reunion announced"
BULLET = "\u2022"


@dataclass
class Site:
    wire: Wire
    daemon: RunningDaemon
    sources: list[dict[str, Any]]
    items: list[dict[str, Any]]
    topics: list[str]

    def get(self, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Any:
        return self.daemon.get(path, headers, method)

    @property
    def feed_paths(self) -> list[str]:
        return [MERGED] + [f"/feeds/topics/{slug}.atom" for slug in self.topics]

    def file_for(self, path: str) -> Path:
        return self.wire.public / path.removeprefix("/feeds/")


def _entries(prefix: str, titles: list[str]) -> list[tuple[Any, ...]]:
    now = now_utc()
    return [
        (f"urn:{prefix}:{n}", title, f"https://{prefix}.example/news/{n}", now - timedelta(minutes=5 + 7 * n))
        for n, title in enumerate(titles)
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    wire = Wire(tmp_path_factory.mktemp("web"))
    port = free_port()
    configure(wire, port, output={"title": "Test Wire"})
    with FeedServer() as server:
        harbour = _entries(
            "harbour",
            [
                "City marathon closes the harbour bridge on Sunday",
                "Crude oil tankers queue outside the harbour",
                "Blizzard warning issued for the northern coast",
                "Ferry timetable changes announced for the winter",
            ],
        )
        evil = _entries("evil", [EVIL_HEADLINE, "Fish & chips prices rise < 5% this year"])
        urls = [
            server.serve("/harbour.xml", atom(harbour, title="Harbour Gazette"), content_type=ATOM_TYPE),
            server.serve("/evil.xml", atom(evil, title="Evil Feed"), content_type=ATOM_TYPE),
        ]
        wire.add(urls[0], "--every", "60")
        wire.add(urls[1], "--every", "60", "--name", EVIL_NAME)
        with RunningDaemon(wire, port, name="web-daemon") as daemon:
            daemon.wait_ready()
            wait_for(lambda: all(server.requests_for(p) for p in ("/harbour.xml", "/evil.xml")), 10, "the first poll")
            daemon.wait_ticks(1)
            sources = wire.json("list")
            assert all(s["last_status"] == 200 for s in sources), sources
            items = wire.items()
            assert len(items) == 6, items
            topics = [t["slug"] for t in wire.json("topics")]
            assert {"sports", "energy", "weather"} <= set(topics)
            yield Site(wire, daemon, sources, items, topics)
            assert daemon.stop() == 0, daemon.log()


def _snapshot(site: Site) -> dict[str, Any]:
    """Every row of every table, and every output file's bytes and mtime."""
    with closing(sqlite3.connect(site.wire.db_path)) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = {table: sorted(map(repr, conn.execute(f'SELECT * FROM "{table}"'))) for table in tables}
    files = {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(site.wire.public.rglob("*")) if p.is_file()}
    return {"rows": rows, "files": files}


# Feeds


def test_feeds_are_the_files_with_validators(site: Site) -> None:
    assert len(site.feed_paths) >= 4
    for path in site.feed_paths:
        response = site.get(path, {"Accept-Encoding": "identity"})
        assert response.status == 200, path
        assert response.header("Content-Type") == ATOM_TYPE
        assert re.fullmatch(r'"[^"]+"', response.header("ETag") or ""), response.header("ETag")
        assert "max-age=" in (response.header("Cache-Control") or "")
        assert response.header("Content-Encoding") is None
        assert response.body == site.file_for(path).read_bytes(), path
        modified = parsedate_to_datetime(response.header("Last-Modified") or "")
        file_time = datetime.fromtimestamp(site.file_for(path).stat().st_mtime, tz=UTC)
        assert abs(modified - file_time) < timedelta(seconds=2), (modified, file_time)
    titles = {
        entry.findtext("{http://www.w3.org/2005/Atom}title")
        for entry in ElementTree.fromstring(site.get(MERGED).body).iter("{http://www.w3.org/2005/Atom}entry")
    }
    assert titles == {item["title"] for item in site.items}


def test_conditional_requests_get_304(site: Site) -> None:
    first = site.get(MERGED)
    etag, modified = first.header("ETag"), first.header("Last-Modified")
    assert etag and modified
    cases = {
        "exact ETag": {"If-None-Match": etag},
        "list of ETags": {"If-None-Match": f'"nope", {etag}, "other"'},
        "weak ETag": {"If-None-Match": f"W/{etag}"},
        "star": {"If-None-Match": "*"},
        "If-Modified-Since": {"If-Modified-Since": modified},
        "later If-Modified-Since": {
            "If-Modified-Since": format_datetime(parsedate_to_datetime(modified) + timedelta(hours=1), usegmt=True)
        },
    }
    for name, headers in cases.items():
        response = site.get(MERGED, headers)
        assert response.status == 304, name
        assert response.body == b"", name
        assert response.header("ETag") == etag, name
    earlier = format_datetime(parsedate_to_datetime(modified) - timedelta(hours=1), usegmt=True)
    for name, headers in {
        "other ETag": {"If-None-Match": '"nope"'},
        "earlier If-Modified-Since": {"If-Modified-Since": earlier},
        # RFC 9110 13.1.3: with If-None-Match present, If-Modified-Since is ignored.
        "If-None-Match decides": {"If-None-Match": '"nope"', "If-Modified-Since": modified},
    }.items():
        response = site.get(MERGED, headers)
        assert response.status == 200, name
        assert response.body == first.body, name


def test_head_has_the_headers_and_no_body(site: Site) -> None:
    got = site.get(MERGED, {"Accept-Encoding": "identity"})
    head = site.get(MERGED, {"Accept-Encoding": "identity"}, method="HEAD")
    assert head.status == 200
    assert head.body == b""
    for name in ("Content-Type", "ETag", "Last-Modified", "Cache-Control"):
        assert head.header(name) == got.header(name), name
    assert head.header("Content-Length") in (None, str(len(got.body)))
    assert site.get(MERGED, {"If-None-Match": got.header("ETag") or ""}, method="HEAD").status == 304


def test_gzip_only_when_accepted(site: Site) -> None:
    expected = site.file_for(MERGED).read_bytes()
    zipped = site.get(MERGED, {"Accept-Encoding": "gzip, deflate"})
    assert zipped.status == 200
    assert zipped.header("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in (zipped.header("Vary") or "")
    assert gzip.decompress(zipped.body) == expected
    assert site.get(MERGED, {"Accept-Encoding": "gzip", "If-None-Match": zipped.header("ETag") or ""}).status == 304
    for accept in ("identity", "gzip;q=0", None):
        plain = site.get(MERGED, {"Accept-Encoding": accept} if accept else {})
        assert plain.status == 200, accept
        assert plain.header("Content-Encoding") in (None, "identity"), accept
        assert plain.body == expected, accept


def test_unknown_topic_is_404(site: Site) -> None:
    for path in ("/feeds/topics/no-such-topic.atom", "/feeds/topics/Sports.atom", "/feeds/topics/..%2Fsecret.atom"):
        assert site.get(path).status == 404, path


# Other endpoints


def test_opml_lists_every_source(site: Site) -> None:
    response = site.get("/sources.opml")
    assert response.status == 200
    assert (response.header("Content-Type") or "").startswith("text/x-opml")
    root = ElementTree.fromstring(response.body)
    assert root.tag == "opml"
    outlines = root.findall("./body//outline")
    assert len(outlines) == len(site.sources)
    assert {o.get("xmlUrl") for o in outlines} == {s["url"] for s in site.sources}
    assert EVIL_NAME in {o.get("text") for o in outlines}


def test_healthz_shape(site: Site) -> None:
    response = site.get("/healthz")
    assert response.status == 200
    assert (response.header("Content-Type") or "").startswith("application/json")
    body = response.json()
    assert body["status"] == "ok"
    scheduler = body["scheduler"]
    assert scheduler["alive"] is True
    assert isinstance(scheduler["ticks"], int) and scheduler["ticks"] >= 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", scheduler["last_tick"])
    assert scheduler["last_error"] is None
    assert body["database"] == {"ok": True}
    assert body["sources"] == {"total": 2, "ok": 2, "failing": 0, "disabled": 0}


def test_metrics_after_a_tick(site: Site) -> None:
    response = site.get("/metrics")
    assert response.status == 200
    assert (response.header("Content-Type") or "").startswith("text/plain")
    text = response.text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    for name in (
        "offthewire_fetches_total",
        "offthewire_items_total",
        "offthewire_duplicates_merged_total",
        "offthewire_fetch_duration_seconds_count",
        "offthewire_publish_duration_seconds_count",
        "offthewire_sources",
    ):
        assert any(key[0] == name for key in samples), name
    assert samples[("offthewire_fetches_total", (("outcome", "ok"), ("status", "200")))] == 2
    assert samples[("offthewire_items_total", (("change", "new"),))] == len(site.items)
    assert samples[("offthewire_sources", (("state", "ok"),))] == 2
    assert samples[("offthewire_fetch_duration_seconds_count", ())] == 2
    assert samples[("offthewire_publish_duration_seconds_count", ())] >= 1


def test_front_page_links_feeds_and_escapes_headlines(site: Site) -> None:
    response = site.get("/")
    assert response.status == 200
    assert (response.header("Content-Type") or "").startswith("text/html")
    html = response.text
    assert "<script" not in html.lower()
    assert "Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; Sons" in html
    evil = next(item["title"] for item in site.items if item["link"] == "https://evil.example/news/0")
    assert "&" in evil, evil
    for item in site.items:
        assert str(escape(item["title"])) in html, item["title"]

    page = lxml.html.fromstring(response.body)
    assert not page.xpath("//script")
    alternates = {
        link.get("href")
        for link in page.xpath('//link[@rel="alternate"]')
        if link.get("type") == "application/atom+xml"
    }
    base = site.wire.base_url
    assert alternates == {base + path.lstrip("/") for path in site.feed_paths}

    ticker = page.xpath('//nav[contains(@class, "wire")]')[0]
    assert {a.text_content() for a in ticker.xpath(".//a")} == {item["title"] for item in site.items}
    assert evil in ticker.text_content()
    assert BULLET in ticker.text_content()
    assert EVIL_NAME in page.text_content()  # the source-health table, shown as text


def test_ticker_fragment(site: Site) -> None:
    response = site.get("/ticker?n=3")
    assert response.status == 200
    assert "<script" not in response.text.lower()
    fragment = lxml.html.fromstring(response.body)
    run = fragment.xpath('//span[contains(@class, "lines")]')[0]
    links = [a.text_content() for a in run.xpath(".//a")]
    assert len(links) == 3
    newest = sorted(site.items, key=lambda item: item["published"], reverse=True)
    assert links == [item["title"] for item in newest[:3]]
    assert [part.strip() for part in run.text_content().split(BULLET)] == links

    sports = lxml.html.fromstring(site.get("/ticker?topic=sports").body)
    assert [a.text_content() for a in sports.xpath("//a")] == ["City marathon closes the harbour bridge on Sunday"]

    assert site.get("/ticker?topic=unknown").status == 404
    assert site.get("/ticker?n=abc").status == 400
    assert site.get("/ticker?n=-1").status == 400


def test_search_page_lists_matches_escaped(site: Site) -> None:
    response = site.get("/search?q=harbour")
    assert response.status == 200
    page = lxml.html.fromstring(response.body)
    found = [a.text_content() for a in page.xpath("//ol[@class='stories']/li/a")]
    assert set(found) == {
        "City marathon closes the harbour bridge on Sunday",
        "Crude oil tankers queue outside the harbour",
    }
    assert page.xpath("//input[@name='q']/@value") == ["harbour"]

    evil = site.get("/search?q=reunion")
    assert "<script" not in evil.text.lower()
    stored = [item["title"] for item in site.items if "reunion" in item["title"]]
    assert [a.text_content() for a in lxml.html.fromstring(evil.body).xpath("//ol/li/a")] == stored

    assert site.get("/search?q=harbour&topic=sports").text.count("<li><a") == 1
    for query in ("", '"unclosed', "zebra"):
        page = lxml.html.fromstring(site.get(f"/search?q={query}").body)
        assert page.xpath("//ol/li/a[@href!='#']") == []
    front = lxml.html.fromstring(site.get("/").body)
    assert front.xpath("//form[@role='search']/@action") == [site.wire.base_url + "search"]


def test_requests_never_change_state(site: Site) -> None:
    before = _snapshot(site)
    paths = [
        *site.feed_paths,
        "/",
        "/ticker",
        "/ticker?n=3",
        "/ticker?topic=sports",
        "/ticker?topic=unknown",
        "/ticker?n=abc",
        "/sources.opml",
        "/search?q=harbour",
        "/healthz",
        "/metrics",
        "/feeds/topics/unknown.atom",
        "/no-such-page",
    ]
    for path in paths:
        for headers in ({}, {"Accept-Encoding": "gzip"}, {"If-None-Match": "*"}):
            site.get(path, headers)
        site.get(path, method="HEAD")
    site.daemon.wait_ticks(2)
    assert _snapshot(site) == before
