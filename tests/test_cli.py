"""Integration tests of the command line: each command run as `python -m aggregator` in a subprocess.

Subscribing (no network needed, URL checks, duplicates), listing, removing, reading items and
topics, configuration errors, the README's command reference, and the demo.
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import feedparser
import pytest
from conftest import Wire, atom, cli_env, minutes_ago, parse_iso, poll_counts, printed_id, rss
from feedserver import FeedServer, closed_port

from aggregator.cli import _parser

README = Path(__file__).resolve().parent.parent / "README.md"
COMMANDS = ("add", "remove", "list", "poll", "publish", "items", "topics", "demo")
LIST_FIELDS = {
    "id",
    "url",
    "name",
    "topics",
    "every_minutes",
    "enabled",
    "last_fetched_at",
    "last_status",
    "last_error",
    "next_fetch_at",
    "item_count",
}
ITEM_FIELDS = {"id", "source_id", "source", "title", "link", "published", "updated", "topics", "story_id"}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TICKER_LINE = re.compile(r"^(\d\d:\d\d)  (\S.*?)  +(\S.*)$")


def one_line_error(result: CompletedProcess[str]) -> str:
    """The error a failed command printed: one plain line on stderr, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {result.stderr!r}"
    assert "Traceback" not in result.stderr
    return lines[0]


# add


BAD_ADDS = {
    "ftp": (["ftp://example.com/feed.xml"], "ftp://example.com/feed.xml"),
    "not-a-url": (["not a url"], "not a url"),
    "bad-topic-slug": (["http://example.com/feed.xml", "--topic", "bad_slug!"], "bad_slug!"),
}


def test_add_prints_the_id_needs_no_network_and_refuses_bad_input(wire: Wire) -> None:
    # Nothing listens on port 9: add must not try to fetch.
    url = "http://127.0.0.1:9/feed"
    added = wire.run("add", url)
    assert added.returncode == 0, added.stderr

    for case, (args, named) in BAD_ADDS.items():
        result = wire.run("add", *args)
        assert result.returncode == 2, (case, result)
        assert named in one_line_error(result), case
        assert result.stdout == "", case

    (source,) = wire.json("list")
    assert printed_id(added.stdout) == source["id"]
    assert source["url"] == url
    assert source["last_fetched_at"] is None
    assert source["item_count"] == 0


def test_add_same_url_after_normalising_exits_1(wire: Wire) -> None:
    first = wire.add("http://example.com/feed")

    again = wire.run("add", "HTTP://Example.com:80/feed")

    assert again.returncode == 1
    message = one_line_error(again)
    assert "example.com/feed" in message.lower()
    assert [source["id"] for source in wire.json("list")] == [first]


# A module of two polled sources, read in every way the CLI offers.


@dataclass(frozen=True)
class Populated:
    urls: dict[str, str]
    ids: dict[str, int]
    out: dict[str, CompletedProcess[str]]

    def json(self, name: str) -> Any:
        result = self.out[name]
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


ALPHA = [
    ("a1", "Marathon runners brave the harbour wind", "https://alpha.example/1", minutes_ago(50)),
    ("a2", "Oil tanker docks after week-long delay", "https://alpha.example/2", minutes_ago(30)),
    ("a3", "City library extends its opening hours", "https://alpha.example/3", minutes_ago(10)),
]
BETA = [
    ("urn:beta:1", "Olympic rowers test the new crude-free fuel", "https://beta.example/1", minutes_ago(40)),
    ("urn:beta:2", "Council votes to repaint the lighthouse", "https://beta.example/2", minutes_ago(20)),
]


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    wire = Wire(tmp_path_factory.mktemp("populated"))
    with FeedServer() as server:
        urls = {
            "alpha": server.serve("/alpha.xml", rss(ALPHA, title="Alpha channel title")),
            "beta": server.serve("/beta.atom", atom(BETA, title="Beta Feed"), content_type="application/atom+xml"),
        }
        ids = {"alpha": wire.add(urls["alpha"], "--name", "Alpha Wire", "--every", "30")}
        ids["beta"] = wire.add(urls["beta"], "--topic", "local")
        poll = wire.run("poll")
        assert poll_counts(poll)["new"] == len(ALPHA) + len(BETA)
        reads = {
            "list": ["list"],
            "list-json": ["list", "--json"],
            "items": ["items"],
            "items-json": ["items", "--json"],
            "items-limit": ["items", "--json", "--limit", "2"],
            "items-topic": ["items", "--json", "--topic", "sports"],
            "items-source": ["items", "--json", "--source", urls["beta"]],
            "topics": ["topics"],
            "topics-json": ["topics", "--json"],
        }
        results = wire.run_parallel(*reads.values())
        yield Populated(urls, ids, dict(zip(reads, results, strict=True)))


def test_list_json_has_the_contract_fields(populated: Populated) -> None:
    sources = {s["id"]: s for s in populated.json("list-json")}
    assert set(sources) == set(populated.ids.values())
    items = populated.json("items-json")
    for name, source_id in populated.ids.items():
        source = sources[source_id]
        assert set(source) >= LIST_FIELDS, LIST_FIELDS - set(source)
        assert source["url"] == populated.urls[name]
        assert source["enabled"] is True
        assert source["last_status"] == 200
        assert source["last_error"] is None
        assert ISO_UTC.match(source["last_fetched_at"])
        assert ISO_UTC.match(source["next_fetch_at"])
        assert parse_iso(source["next_fetch_at"]) > parse_iso(source["last_fetched_at"])
        assert source["item_count"] == sum(1 for item in items if item["source_id"] == source_id)
    alpha, beta = sources[populated.ids["alpha"]], sources[populated.ids["beta"]]
    assert (alpha["name"], alpha["topics"], alpha["every_minutes"]) == ("Alpha Wire", [], 30)
    assert (beta["name"], beta["topics"]) == ("Beta Feed", ["local"])


def test_list_text_shows_every_source(populated: Populated) -> None:
    out = populated.out["list"].stdout
    for url in populated.urls.values():
        assert url in out
    assert "Alpha Wire" in out
    assert "Beta Feed" in out


def test_items_json_has_the_contract_fields_newest_first(populated: Populated) -> None:
    items = populated.json("items-json")
    expected = {title: ("Alpha Wire", link, date) for _, title, link, date in ALPHA}
    expected |= {title: ("Beta Feed", link, date) for _, title, link, date in BETA}
    assert [item["title"] for item in items] == sorted(expected, key=lambda t: expected[t][2], reverse=True)
    for item in items:
        assert set(item) >= ITEM_FIELDS, ITEM_FIELDS - set(item)
        source, link, date = expected[item["title"]]
        assert (item["source"], item["link"]) == (source, link)
        assert parse_iso(item["published"]) == date
        assert ISO_UTC.match(item["updated"])
        assert isinstance(item["story_id"], int)
        assert item["source_id"] == populated.ids["alpha" if source == "Alpha Wire" else "beta"]
    topics = {item["title"]: set(item["topics"]) for item in items}
    assert topics[ALPHA[0][1]] == {"sports"}
    assert topics[ALPHA[1][1]] == {"energy"}
    assert topics[ALPHA[2][1]] == set()
    assert topics[BETA[0][1]] == {"local", "sports", "energy"}
    assert topics[BETA[1][1]] == {"local"}


def test_items_filters(populated: Populated) -> None:
    everything = populated.json("items-json")
    assert populated.json("items-limit") == everything[:2]
    sports = populated.json("items-topic")
    assert sports == [item for item in everything if "sports" in item["topics"]]
    assert len(sports) == 2
    beta = populated.json("items-source")
    assert beta == [item for item in everything if item["source_id"] == populated.ids["beta"]]
    assert len(beta) == len(BETA)


def test_items_text_is_a_ticker(populated: Populated) -> None:
    expected = [
        (parse_iso(item["published"]).strftime("%H:%M"), item["source"], item["title"])
        for item in populated.json("items-json")
    ]
    lines = [line for line in populated.out["items"].stdout.splitlines() if line and not line.startswith("--")]
    parsed = []
    for line in lines:
        match = TICKER_LINE.match(line)
        assert match, f"not 'HH:MM  Source  Headline': {line!r}"
        parsed.append(match.groups())
    assert parsed == expected


def test_topics_json_counts_items(populated: Populated) -> None:
    topics = {topic["slug"]: topic for topic in populated.json("topics-json")}
    items = populated.json("items-json")
    assert {"sports", "energy", "weather", "local"} <= set(topics)
    for slug, topic in topics.items():
        assert topic["item_count"] == sum(1 for item in items if slug in item["topics"]), slug
        assert topic["title"]
    assert topics["sports"]["keywords"] == ["marathon", "olympic"]
    assert topics["weather"]["item_count"] == 0
    assert topics["local"]["item_count"] == len(BETA)


def test_topics_text_shows_each_topic_with_its_count(populated: Populated) -> None:
    lines = populated.out["topics"].stdout.splitlines()
    for topic in populated.json("topics-json"):
        row = [line for line in lines if line.split()[:1] == [topic["slug"]]]
        assert len(row) == 1, (topic["slug"], lines)
        assert re.search(rf"\s{topic['item_count']}\s", row[0] + " "), row[0]


# remove


@dataclass(frozen=True)
class Removal:
    urls: dict[str, str]
    ids: dict[str, int]
    out: dict[str, CompletedProcess[str]]
    atom_before: str
    atom_after: str
    items: list[dict[str, Any]]
    sources: list[dict[str, Any]]


REMOVAL_FEEDS = {
    "drop": [
        ("d1", "Dropped wire reports a ferry delay", "https://drop.example/1", minutes_ago(40)),
        ("d2", "Dropped wire reports a bridge closure", "https://shared.example/bridge", minutes_ago(30)),
    ],
    "keep": [
        ("k1", "Kept wire reports a tram strike", "https://keep.example/1", minutes_ago(35)),
        ("k2", "Kept wire reports a harbour regatta", "https://keep.example/2", minutes_ago(25)),
    ],
    "stay": [
        ("s1", "Staying wire reports a museum opening", "https://stay.example/1", minutes_ago(15)),
        # The same article as d2 (tracking parameter aside), reported later: one story with d2 first.
        (
            "s2",
            "Bridge stays shut as engineers inspect",
            "https://shared.example/bridge?utm_source=stay",
            minutes_ago(5),
        ),
    ],
}


@pytest.fixture(scope="module")
def removal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Removal]:
    wire = Wire(tmp_path_factory.mktemp("removal"))
    with FeedServer() as server:
        urls = {
            name: server.serve(f"/{name}.xml", rss(feed, title=f"{name.title()} Wire"))
            for name, feed in REMOVAL_FEEDS.items()
        }
        ids = dict(zip(urls, wire.add_many(*urls.values()), strict=True))
        assert poll_counts(wire.run("poll"))["new"] == 6
        atom_before = wire.feed_file().read_text(encoding="utf-8")
        out = {
            "by-id": wire.run("remove", str(ids["drop"])),
            # The URL as typed differently (scheme case, default port) still names the source.
            "by-url": wire.run("remove", urls["keep"].replace("http://", "HTTP://"), "--keep-items"),
            "unknown": wire.run("remove", "http://127.0.0.1:9/never-added.xml"),
        }
        items, sources = (json.loads(r.stdout) for r in wire.run_parallel(["items", "--json"], ["list", "--json"]))
        out["publish"] = wire.run("publish")
        atom_after = wire.feed_file().read_text(encoding="utf-8")
        yield Removal(urls, ids, out, atom_before, atom_after, items, sources)


def test_remove_by_id_and_by_url(removal: Removal) -> None:
    assert removal.out["by-id"].returncode == 0, removal.out["by-id"].stderr
    assert removal.out["by-url"].returncode == 0, removal.out["by-url"].stderr
    assert [s["url"] for s in removal.sources] == [removal.urls["stay"]]


def test_remove_unknown_exits_1_and_loses_nothing(removal: Removal) -> None:
    result = removal.out["unknown"]
    assert result.returncode == 1
    assert result.args[-1] in one_line_error(result)
    (stay,) = removal.sources
    assert stay["item_count"] == len(REMOVAL_FEEDS["stay"])


def test_remove_keep_items_keeps_them_in_items_and_feeds(removal: Removal) -> None:
    titles = {item["title"] for item in removal.items}
    for _, title, _, _ in REMOVAL_FEEDS["keep"]:
        assert title in titles
        assert title in removal.atom_after


def test_plain_remove_drops_items_and_leaves_the_feed_at_next_publish(removal: Removal) -> None:
    assert removal.out["publish"].returncode == 0, removal.out["publish"].stderr
    titles = {item["title"] for item in removal.items}
    assert removal.ids["drop"] not in {item["source_id"] for item in removal.items}
    for _, title, _, _ in REMOVAL_FEEDS["drop"]:
        assert title in removal.atom_before
        assert title not in titles
        assert title not in removal.atom_after
    for _, title, _, _ in REMOVAL_FEEDS["stay"]:
        assert title in removal.atom_after


def test_feed_stays_newest_first_after_removing_a_story_first_report(removal: Removal) -> None:
    # d2 was the first report of the bridge story; without it the story is s2's, dated -5 min.
    before = feedparser.parse(removal.atom_before)
    assert any(e.title == REMOVAL_FEEDS["drop"][1][1] for e in before.entries)
    assert all(e.title != REMOVAL_FEEDS["stay"][1][1] for e in before.entries)
    after = feedparser.parse(removal.atom_after)
    assert REMOVAL_FEEDS["stay"][1][1] in [e.title for e in after.entries]
    dates = [(e.published_parsed, e.title) for e in after.entries]
    assert dates == sorted(dates, key=lambda pair: pair[0], reverse=True), [title for _, title in dates]


# Configuration errors


BAD_CONFIGS = {
    "unknown-key": ("[poll]\ntimeout = 2\nbogus_key = 1\n", "bogus_key"),
    "wrong-type": ('[output]\nlimit = "ten"\n', "limit"),
    "topic-keywords": ('[[topics]]\nslug = "oil"\nkeywords = "oil"\n', "keywords"),
    "invalid-toml": ("[poll\ntimeout = 2\n", "line 1"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exits_2_with_one_line_naming_file_and_key(wire: Wire, case: str) -> None:
    text, named = BAD_CONFIGS[case]
    wire.config.write_text(text, encoding="utf-8")

    result = wire.run("list")

    assert result.returncode == 2
    message = one_line_error(result)
    assert str(wire.config) in message or wire.config.name in message
    assert named in message
    assert result.stdout == ""
    assert not wire.db_path.exists()


def test_verbose_shows_the_traceback_of_a_config_error(wire: Wire) -> None:
    wire.config.write_text("[poll]\nbogus_key = 1\n", encoding="utf-8")

    result = wire.run("-v", "list")

    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert "bogus_key" in result.stderr


def test_config_is_found_in_the_environment_then_the_current_folder(wire: Wire, tmp_path: Path) -> None:
    wire.add("http://127.0.0.1:9/configured.xml")
    bare = [sys.executable, "-m", "aggregator", "list", "--json"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    from_folder = subprocess.run(bare, cwd=wire.folder, env=cli_env(), capture_output=True, text=True, timeout=60)
    from_env = subprocess.run(
        bare,
        cwd=elsewhere,
        env={**cli_env(), "OFFTHEWIRE_CONFIG": str(wire.config)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    for result in (from_folder, from_env):
        assert result.returncode == 0, result.stderr
        assert [s["url"] for s in json.loads(result.stdout)] == ["http://127.0.0.1:9/configured.xml"]
    assert list(elsewhere.iterdir()) == []


# Documentation and help


def cli_commands() -> list[str]:
    """Every command the real parser knows, so a new command without documentation fails here."""
    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(commands.choices)


def test_readme_documents_every_command() -> None:
    assert README.is_file(), f"{README} is missing"
    text = README.read_text(encoding="utf-8")
    assert set(COMMANDS) <= set(cli_commands())
    missing = [name for name in cli_commands() if f"offthewire {name}" not in text]
    assert missing == [], f"README.md does not show: {', '.join('offthewire ' + n for n in missing)}"


def test_module_help_lists_every_command(wire: Wire) -> None:
    result = wire.run("--help")

    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\b", result.stdout, re.MULTILINE), name


# demo

DEMO_READY_SECONDS = 45


@dataclass(frozen=True)
class DemoRun:
    returncode: int
    stdout: str
    stderr: str
    served: bytes | None


def run_demo(wire: Wire, folder: Path) -> DemoRun:
    """Start `demo`, wait (bounded) until it says it is serving, fetch its merged feed, press Ctrl-C."""
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []
    served = None
    stderr_file = folder.parent / f"{folder.name}-stderr.txt"
    with (
        stderr_file.open("w", encoding="utf-8") as stderr,
        subprocess.Popen(
            wire.command("demo", "--dir", str(folder), "--port", str(closed_port())),
            cwd=wire.folder,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as process,
    ):
        stdout = process.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                lines.put(line)
            lines.put(None)

        reader = threading.Thread(target=read, name="demo-stdout", daemon=True)
        reader.start()
        deadline = time.monotonic() + DEMO_READY_SECONDS
        try:
            while (left := deadline - time.monotonic()) > 0:
                try:
                    line = lines.get(timeout=left)
                except queue.Empty:
                    break
                if line is None:
                    break
                seen.append(line)
                ready = re.search(r"Open (http://127\.0\.0\.1:\d+/)", line)
                if ready:
                    with urllib.request.urlopen(ready.group(1) + "feeds/off-the-wire.atom", timeout=10) as response:
                        served = response.read()
                    break
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            reader.join(timeout=10)
    while not lines.empty():
        line = lines.get()
        if line is not None:
            seen.append(line)
    return DemoRun(process.returncode, "".join(seen), stderr_file.read_text(encoding="utf-8"), served)


def _demo_facts(folder: Path) -> tuple[int, list[tuple[int, int]], set[str]]:
    with closing(sqlite3.connect(folder / "offthewire.db")) as conn:
        count = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        merged = conn.execute(
            """SELECT story_id, COUNT(DISTINCT source_id) FROM items
               GROUP BY story_id HAVING COUNT(DISTINCT source_id) > 1"""
        ).fetchall()
        titles = {title for (title,) in conn.execute("SELECT title FROM items")}
    return count, merged, titles


def _check_demo(result: DemoRun, folder: Path) -> int:
    assert result.returncode == 0, (result.stdout, result.stderr)
    public = folder / "public"
    merged_feed = public / "off-the-wire.atom"
    assert merged_feed.is_file()
    topic_feeds = sorted((public / "topics").glob("*.atom"))
    assert len(topic_feeds) >= 2
    printed = {Path(p) for p in re.findall(r"(/\S+\.atom)\b", result.stdout)}
    assert merged_feed in printed
    assert set(topic_feeds) <= printed
    # What it serves is what it wrote.
    assert result.served is not None, f"the demo never said where it serves: {result.stdout!r}"
    assert result.served == merged_feed.read_bytes()

    count, merged, titles = _demo_facts(folder)
    stored = re.search(r"(\d+) items", result.stdout)
    assert stored, result.stdout
    assert int(stored.group(1)) == count > 0
    headlines = [m.group(3) for m in map(TICKER_LINE.match, result.stdout.splitlines()) if m]
    assert headlines, result.stdout
    assert all(any(headline.startswith(title) for title in titles) for headline in headlines), headlines

    # The sample wire carries stories reported by several outlets: they are merged.
    assert merged, "no story was merged across outlets"
    assert all(2 <= outlets <= 4 for _, outlets in merged), merged
    assert "Also reported by" in merged_feed.read_text(encoding="utf-8")
    return count


def test_demo_runs_the_whole_pipeline_twice_in_the_same_folder(wire: Wire, tmp_path: Path) -> None:
    folder = tmp_path / "demo"

    count = _check_demo(run_demo(wire, folder), folder)

    assert _check_demo(run_demo(wire, folder), folder) == count


def test_demo_refuses_an_unrelated_folder(wire: Wire, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    precious = folder / "notes.txt"
    precious.write_text("do not delete", encoding="utf-8")

    result = wire.run("demo", "--dir", str(folder))

    assert result.returncode == 2
    assert str(folder) in one_line_error(result)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert precious.read_text(encoding="utf-8") == "do not delete"


def test_add_test_reports_the_feed_without_subscribing(wire: Wire, feed_server: FeedServer) -> None:
    url = feed_server.serve(
        "/probe.xml",
        rss(
            [
                (f"urn:probe:{n}", f"Probe desk story {n}", f"https://probe.example/{n}", minutes_ago(n))
                for n in range(3)
            ]
        ),
        etag='"probe-1"',
        last_modified="Sat, 28 Nov 2026 10:00:00 GMT",
    )
    missing = feed_server.url("/missing.xml")

    found = wire.run("add", "--test", url)
    failed = wire.run("add", "--test", missing)

    assert found.returncode == 0, found.stderr
    for expected in ("Status:      200", "Format:      rss20", "Entries:     3", 'ETag "probe-1"', "Next poll:"):
        assert expected in found.stdout
    assert failed.returncode == 1
    assert "HTTP 404" in failed.stdout
    assert json.loads(wire.run("list", "--json").stdout) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("items", "--limit", "0"), "--limit"),
        (("stories", "--limit", "-2"), "--limit"),
        (("add", "http://x.example/f", "--every", "0"), "--every"),
    ],
)
def test_bad_numbers_in_arguments_exit_2_naming_the_argument(wire: Wire, args: tuple[str, ...], named: str) -> None:
    result = wire.run(*args)
    assert result.returncode == 2
    assert f"argument {named}: must be a positive whole number" in result.stderr
    assert json.loads(wire.run("list", "--json").stdout) == []
