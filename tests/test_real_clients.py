"""Independent feed readers consume what the daemon serves over HTTP on 127.0.0.1.

- newsboat (Debian package `newsboat`) subscribes to the merged feed, once in Atom and once in RSS,
  reloads non-interactively (`newsboat -x reload`) and must hold exactly the stories the feed carries.
  With all of them marked read (`newsboat -I`), the upstream files new stories and a second report of
  an old one; once the daemon has published them, a reload must add exactly the new stories, and only
  they are unread. Without newsboat the test is skipped, unless OFFTHEWIRE_REQUIRE_NEWSBOAT=1 (CI sets
  it), which makes its absence a failure.
- lemon24/reader (`reader` in the test extra) reads the merged feed and a topic feed in Atom, RSS 2.0
  and JSON Feed, and must see the entries feedparser reads from the Atom feed (ids, titles, links,
  publication times, as many); asked again, it gets a 304 and nothing changes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import Wire, atom, now_utc, rss
from daemon_helpers import RunningDaemon, configure, daemon_env, free_port, get, wait_for
from feedserver import FeedServer
from reader import make_reader

ATOM_TYPE = "application/atom+xml; charset=utf-8"
MERGED = "/feeds/off-the-wire"
REQUIRED = os.environ.get("OFFTHEWIRE_REQUIRE_NEWSBOAT") == "1"
NEWSBOAT_TIMEOUT = 30
PUBLISH_TIMEOUT = 15

# Distinct headlines: each report below is its own story, except where a link is shared on purpose.
WIRE_HEADLINES = [
    "Harbour authority opens the new container terminal",
    "Parliament passes the coastal fisheries bill",
    "Central bank holds interest rates for a third month",
    "Volcanic ash cancels flights across the northern islands",
]
AGENCY_HEADLINES = [
    "Museum returns bronze sculptures to their country of origin",
    "Rail strike called off after overnight pay talks",
]
LATER_HEADLINES = [
    "Glacier survey finds record summer melt",
    "Chess prodigy wins the national championship",
    "Lighthouse keeper retires after forty years",
]


def reports(prefix: str, headlines: list[str], first: int = 0, gap_minutes: int = 10) -> list[tuple[Any, ...]]:
    """(guid, title, link, date) for each headline, numbered from `first`: the later in the list, the newer."""
    now = now_utc()
    return [
        (
            f"urn:{prefix}:{n}",
            headline,
            f"https://{prefix}.example/news/{n}",
            now - timedelta(minutes=gap_minutes * (len(headlines) - index)),
        )
        for index, (n, headline) in enumerate(enumerate(headlines, start=first))
    ]


def served_feed(url: str) -> Any:
    """A served feed as feedparser reads it; it must be well-formed."""
    response = get(url)
    assert response.status == 200, f"{url} answered {response.status}"
    document = feedparser.parse(response.body)
    assert not document.bozo, document.get("bozo_exception")
    return document


def served_entries(url: str) -> list[tuple[str, str, str]]:
    """(id, title, link) of each entry of a served feed."""
    return [(entry.id, entry.title, entry.link) for entry in served_feed(url).entries]


def served_summaries(url: str) -> dict[str, str]:
    """Each entry's summary by its title."""
    return {entry.title: entry.get("summary", "") for entry in served_feed(url).entries}


# newsboat


def newsboat_binary() -> str:
    """newsboat's path; skipped when missing, a failure when OFFTHEWIRE_REQUIRE_NEWSBOAT=1."""
    found = shutil.which("newsboat")
    if found is None:
        reason = "newsboat not installed (Debian package: newsboat)"
        if REQUIRED:
            pytest.fail(f"{reason}, and OFFTHEWIRE_REQUIRE_NEWSBOAT=1 requires it")
        pytest.skip(reason)
    return found


class Newsboat:
    """newsboat subscribed to one feed, with its own urls file, config and cache in a folder; run only
    non-interactively (`-x`, `-I`)."""

    def __init__(self, binary: str, folder: Path, url: str) -> None:
        self.binary = binary
        self.folder = folder
        self.url = url
        self.cache = folder / "cache.db"
        folder.mkdir(parents=True)
        (folder / "urls").write_text(f"{url}\n", encoding="utf-8")
        # One download at a time, bounded; no cap on the articles kept per feed.
        config = ["reload-threads 1", "download-timeout 10", "download-retries 1", "max-items 0"]
        (folder / "config").write_text("\n".join(config) + "\n", encoding="utf-8")

    def run(self, *args: str) -> str:
        """Run newsboat once in its own process group, bounded; its stdout."""
        command = [
            self.binary,
            "-u",
            str(self.folder / "urls"),
            "-c",
            str(self.cache),
            "-C",
            str(self.folder / "config"),
            "-l",
            "3",
            "-d",
            str(self.folder / "newsboat.log"),
            *args,
        ]
        home = self.folder / "home"
        home.mkdir(exist_ok=True)
        env = daemon_env(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_DATA_HOME=str(home / "data"),
            TERM="dumb",
        )
        process = subprocess.Popen(
            command,
            cwd=self.folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=NEWSBOAT_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=10)
            raise AssertionError(f"newsboat {' '.join(args)} did not finish within {NEWSBOAT_TIMEOUT} s") from None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        if process.returncode != 0:
            log = (self.folder / "newsboat.log").read_text(encoding="utf-8", errors="replace")
            raise AssertionError(f"newsboat {' '.join(args)} exited {process.returncode}: {err}\n{out}\n{log}")
        return out

    def reload(self) -> None:
        self.run("-x", "reload")

    def unread_count(self) -> int:
        """What `newsboat -x print-unread` prints: "N unread articles"."""
        out = self.run("-x", "print-unread")
        match = re.search(r"(\d+) unread articles?", out)
        assert match, f"print-unread printed {out!r}"
        return int(match.group(1))

    def items(self) -> list[dict[str, Any]]:
        """The feed's articles in newsboat's cache: guid, title, url, unread."""
        with closing(sqlite3.connect(self.cache)) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(
                "SELECT guid, title, url, unread FROM rss_item WHERE feedurl = ? AND deleted = 0 ORDER BY id",
                (self.url,),
            ).fetchall()
        return [dict(row) for row in rows]

    def feed(self) -> dict[str, Any]:
        """The feed as newsboat stored it: its title and website link."""
        with closing(sqlite3.connect(self.cache)) as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT title, url FROM rss_feed WHERE rssurl = ?", (self.url,)).fetchone()
        assert row is not None, f"newsboat stored no feed {self.url}"
        return dict(row)

    def authors(self) -> set[str]:
        with closing(sqlite3.connect(self.cache)) as conn:
            rows = conn.execute("SELECT author FROM rss_item WHERE feedurl = ?", (self.url,)).fetchall()
        return {author for (author,) in rows}

    def mark_read(self, guids: list[str]) -> None:
        """Mark these articles read with newsboat's own import of read articles (`-I FILE`)."""
        read_list = self.folder / "read.txt"
        read_list.write_text("".join(f"{guid}\n" for guid in guids), encoding="utf-8")
        self.run("-I", str(read_list))


def test_newsboat_sees_every_story_then_only_the_new_ones(wire: Wire, feed_server: FeedServer, tmp_path: Path) -> None:
    binary = newsboat_binary()
    port = free_port()
    # Every source is polled at most 1.2 s apart, so the daemon picks up the upstream change by itself.
    configure(wire, port, poll={"cap": 0.02})
    wire_reports = reports("wire", WIRE_HEADLINES)
    # The agency's first report links the wire's first article: one story with two reports.
    agency_reports = reports("agency", AGENCY_HEADLINES)
    agency_reports[0] = (agency_reports[0][0], wire_reports[0][1], wire_reports[0][2], agency_reports[0][3])
    wire.add(feed_server.serve("/wire.xml", atom(wire_reports, title="The Wire"), content_type=ATOM_TYPE))
    wire.add(feed_server.serve("/agency.xml", rss(agency_reports, title="The Agency")))
    stories = len(WIRE_HEADLINES) + len(AGENCY_HEADLINES) - 1

    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        atom_url = daemon.url(f"{MERGED}.atom")
        wait_for(lambda: len(served_entries(atom_url)) == stories, PUBLISH_TIMEOUT, f"{stories} stories served")
        before = served_entries(atom_url)

        # One newsboat per format: newsboat keys articles by guid alone, and both formats carry the same ids.
        readers = [
            Newsboat(binary, tmp_path / f"newsboat-{fmt}", daemon.url(f"{MERGED}.{fmt}")) for fmt in ("atom", "rss")
        ]
        for newsboat in readers:
            newsboat.reload()
            seen = newsboat.items()
            assert len(seen) == stories, (newsboat.url, seen)
            assert sorted((i["guid"], i["title"], i["url"]) for i in seen) == sorted(before), newsboat.url
            assert newsboat.unread_count() == stories
            # The feed's website is the front page (not the JSON Feed), and every article names its outlet.
            assert newsboat.feed()["url"] == wire.base_url, newsboat.url
            assert newsboat.authors() == {"The Wire", "The Agency"}, newsboat.url

            # All read; a reload with nothing new adds nothing, and what was read stays read.
            newsboat.mark_read([item["guid"] for item in seen])
            assert newsboat.unread_count() == 0
            newsboat.reload()
            assert newsboat.unread_count() == 0
            assert len(newsboat.items()) == stories

        # The wire files three new stories, and the agency a second report of a story already served
        # (its entry changes: one more source credited). The daemon polls and publishes both.
        later = reports("wire", LATER_HEADLINES, first=len(WIRE_HEADLINES), gap_minutes=1)
        feed_server.update("/wire.xml", body=atom(wire_reports + later, title="The Wire"))
        echo = ("urn:agency:echo", wire_reports[2][1], wire_reports[2][2], now_utc())
        feed_server.update("/agency.xml", body=rss([*agency_reports, echo], title="The Agency"))
        echoed = wire_reports[2][1]
        summary_before = served_summaries(atom_url)[echoed]
        total = stories + len(LATER_HEADLINES)
        wait_for(
            lambda: len(served_entries(atom_url)) == total and served_summaries(atom_url)[echoed] != summary_before,
            PUBLISH_TIMEOUT,
            f"{total} stories served, one with a new report",
        )
        after = served_entries(atom_url)
        # Each story that was served keeps its id, title and link.
        assert set(before) <= set(after)
        new = sorted(set(after) - set(before))
        assert sorted(title for _, title, _ in new) == sorted(LATER_HEADLINES)

        for newsboat in readers:
            newsboat.reload()
            seen = newsboat.items()
            assert len(seen) == total, (newsboat.url, seen)
            assert newsboat.unread_count() == len(LATER_HEADLINES), newsboat.url
            assert sorted((i["guid"], i["title"], i["url"]) for i in seen if i["unread"]) == new, newsboat.url
        assert daemon.stop() == 0, daemon.log()


# lemon24/reader

READER_VERSIONS = {"atom": "atom10", "rss": "rss20", "json": "json11"}
# Entries each feed carries: the merged feed every story, the "world" topic the world desk's.
CARRIED = {"off-the-wire": len(WIRE_HEADLINES) + len(AGENCY_HEADLINES), "topics/world": len(WIRE_HEADLINES)}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """A daemon that has published two sources, topics "world" and "business", and then holds still."""
    wire = Wire(tmp_path_factory.mktemp("served"))
    port = free_port()
    configure(wire, port)
    with FeedServer() as server:
        world = server.serve(
            "/world.xml", atom(reports("world", WIRE_HEADLINES), title="World Desk"), content_type=ATOM_TYPE
        )
        money = server.serve("/money.xml", rss(reports("money", AGENCY_HEADLINES), title="Money Desk"))
        # Polled once: with `--every 60` nothing is due again while the tests read.
        wire.add(world, "--topic", "world", "--every", "60")
        wire.add(money, "--topic", "business", "--every", "60")
        with RunningDaemon(wire, port, name="served-daemon") as daemon:
            daemon.wait_ready()
            wait_for(
                lambda: all(len(served_entries(daemon.url(f"/feeds/{s}.atom"))) == n for s, n in CARRIED.items()),
                PUBLISH_TIMEOUT,
                "every story in the merged feed and the topic feed",
            )
            yield daemon
            assert daemon.stop() == 0, daemon.log()


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
@pytest.mark.parametrize("stem", ["off-the-wire", "topics/world"])
def test_reader_sees_the_atom_feeds_entries_in_every_format(
    served: RunningDaemon, stem: str, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    atom_feed = served_feed(served.url(f"/feeds/{stem}.atom"))
    expected = sorted((e.id, e.title, e.link, datetime(*e.published_parsed[:6], tzinfo=UTC)) for e in atom_feed.entries)
    assert len(expected) == CARRIED[stem]
    url = served.url(f"/feeds/{stem}.{fmt}")
    with closing(make_reader(str(tmp_path / "reader.sqlite"), session_timeout=(5, 10))) as reader:
        reader.add_feed(url)
        first = reader.update_feed(url)
        assert first is not None
        assert (first.new, first.modified) == (len(expected), 0)
        feed = reader.get_feed(url)
        assert feed.last_exception is None, feed.last_exception
        assert feed.version == READER_VERSIONS[fmt]
        assert feed.title == atom_feed.feed.title
        seen = sorted((e.id, e.title, e.link, e.published) for e in reader.get_entries(feed=url))
        assert seen == expected
        # Asked again, the daemon answers the validators reader kept with 304: nothing to update.
        assert reader.update_feed(url) is None
        assert reader.get_entry_counts(feed=url).total == len(expected)
