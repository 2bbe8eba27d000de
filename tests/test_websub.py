"""WebSub: every format links the hub, and a publish that changed feeds tells the hub which, with
the `hub.mode=publish` form; a hub that is down never stops a poll."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import feedparser
import pytest
from conftest import Wire, minutes_ago, rss
from daemon_helpers import RunningDaemon, configure, free_port, wait_for
from feedserver import FeedServer, closed_port
from lxml import etree


class HubStub:
    """A WebSub hub on 127.0.0.1 that records each publish notification (form fields) it gets."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, list[str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                form["content-type"] = [self.headers.get("Content-Type", "")]
                stub.notifications.append(form)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def announced(self) -> list[str]:
        """The feed URLs notified so far, in order; every notification must be a well-formed publish."""
        for form in self.notifications:
            assert form["hub.mode"] == ["publish"], form
            assert form["content-type"] == ["application/x-www-form-urlencoded"], form
        return [url for form in self.notifications for url in form["hub.url"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[HubStub]:
    stub = HubStub()
    yield stub
    stub.close()


def entries(count: int) -> list[tuple[Any, ...]]:
    return [
        (f"urn:w:{n}", f"Marathon desk story {n}", f"https://w.example/{n}", minutes_ago(60 - n)) for n in range(count)
    ]


def test_feeds_link_the_hub_and_changes_are_announced(wire: Wire, feed_server: FeedServer, hub: HubStub) -> None:
    wire.configure(output={"hub": hub.url})
    url = feed_server.serve("/w.xml", rss(entries(2)))
    wire.add(url)
    assert wire.run("poll").returncode == 0

    feeds = ["off-the-wire", "topics/sports"]
    expected = {f"{wire.base_url}feeds/{feed}.{fmt}" for feed in feeds for fmt in ("atom", "rss", "json")}
    assert set(hub.announced()) >= expected
    assert not any("archive" in announced for announced in hub.announced())
    atom = etree.parse(str(wire.feed_file()))
    assert atom.getroot().find("{http://www.w3.org/2005/Atom}link[@rel='hub']").get("href") == hub.url
    rss_links = feedparser.parse((wire.public / "off-the-wire.rss").read_bytes()).feed.links
    assert {"rel": "hub", "href": hub.url} in [{"rel": link.rel, "href": link.href} for link in rss_links]
    assert json.loads((wire.public / "off-the-wire.json").read_text())["hubs"] == [{"type": "WebSub", "url": hub.url}]

    # Nothing changed: nothing announced.
    before = len(hub.notifications)
    assert wire.run("poll", "--all").returncode == 0
    assert len(hub.notifications) == before

    # A new story in the sports topic: exactly the merged and sports feeds, in each format.
    feed_server.update("/w.xml", body=rss(entries(3)))
    assert wire.run("poll", "--all").returncode == 0
    assert sorted(hub.announced()[before:]) == sorted(expected)


def test_a_hub_that_is_down_never_stops_a_poll(wire: Wire, feed_server: FeedServer) -> None:
    wire.configure(output={"hub": f"http://127.0.0.1:{closed_port()}/hub"})
    wire.add(feed_server.serve("/w.xml", rss(entries(2))))
    result = wire.run("-v", "poll")
    assert result.returncode == 0, result.stderr
    assert "WebSub" in result.stderr and "could not be reached" in result.stderr
    assert len(feedparser.parse(wire.feed_file().read_bytes()).entries) == 2


def test_the_daemon_announces_after_each_publish_that_changed_feeds(
    wire: Wire, feed_server: FeedServer, hub: HubStub
) -> None:
    port = free_port()
    configure(wire, port, output={"hub": hub.url}, topics=[])
    with RunningDaemon(wire, port, name="websub-daemon") as daemon:
        daemon.wait_ready()
        start = len(hub.notifications)
        wire.add(feed_server.serve("/w.xml", rss(entries(2))))
        merged = f"{wire.base_url}feeds/off-the-wire.atom"
        wait_for(lambda: merged in hub.announced()[start:], 15, "the hub to hear of the new story")
        daemon.wait_ticks(2)
        settled = len(hub.notifications)
        daemon.wait_ticks(3)
        assert len(hub.notifications) == settled  # ticks that change nothing announce nothing
        assert daemon.stop() == 0
