"""OPML: reading nested lists (folders and categories become topics), writing, and the CLI round trip."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from aggregator.exceptions import ConfigError
from aggregator.opml import parse_opml, render_opml, slugify
from aggregator.types import Source

NESTED = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>mine</title></head><body>
  <outline text="World News">
    <outline text="Asia &amp; Pacific">
      <outline type="rss" text="Pacific Wire" xmlUrl="https://pacific.example/feed.xml"/>
    </outline>
    <outline type="rss" text="Meridian" xmlUrl="https://meridian.example/rss" category="/business,/Markets/Energy"/>
  </outline>
  <outline type="rss" text="Loose feed" xmlUrl="https://loose.example/atom.xml"/>
  <outline text="Not a feed, just a note"/>
</body></opml>"""

OPML_1 = b"""<opml version="1.0"><head/><body>
<outline title="Old style" xmlUrl="http://old.example/rss.xml"/></body></opml>"""


def test_nested_folders_and_categories_become_topics() -> None:
    feeds = {feed.url: feed for feed in parse_opml(NESTED, "mine.opml")}
    assert set(feeds) == {
        "https://pacific.example/feed.xml",
        "https://meridian.example/rss",
        "https://loose.example/atom.xml",
    }
    assert feeds["https://pacific.example/feed.xml"].topics == ("world-news", "asia-pacific")
    assert feeds["https://meridian.example/rss"].topics == ("world-news", "business", "energy")
    assert feeds["https://loose.example/atom.xml"].topics == ()
    assert feeds["https://meridian.example/rss"].title == "Meridian"


def test_opml_1_is_read_too() -> None:
    [feed] = parse_opml(OPML_1, "old.opml")
    assert (feed.url, feed.title) == ("http://old.example/rss.xml", "Old style")


@pytest.mark.parametrize("data", [b"not xml at all", b"<html><body/></html>", b"<opml version='2.0'/>"])
def test_a_file_that_is_not_opml_names_the_file(data: bytes) -> None:
    with pytest.raises(ConfigError, match=r"lists\.opml"):
        parse_opml(data, "lists.opml")


@pytest.mark.parametrize(("text", "slug"), [("China & Asia", "china-asia"), ("  World  ", "world"), ("***", "")])
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_render_writes_topics_as_categories_and_reads_back() -> None:

    sources = [
        Source(1, "https://a.example/feed", name="A & B", topics=("world", "energy"), feed_link="https://a.example/")
    ]
    document = render_opml(sources, "Off the wire: subscriptions", datetime(2026, 11, 28, tzinfo=UTC))
    outline = etree.fromstring(document).find("body/outline")
    assert outline is not None
    assert outline.get("category") == "/world,/energy"
    assert outline.get("htmlUrl") == "https://a.example/"
    [feed] = parse_opml(document, "export.opml")
    assert (feed.url, feed.title, feed.topics) == ("https://a.example/feed", "A & B", ("world", "energy"))


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "aggregator", "--config", str(tmp_path / "offthewire.toml"), *args]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)


def test_cli_import_twice_export_round_trip_pause_and_resume(tmp_path: Path) -> None:
    (tmp_path / "offthewire.toml").write_text('[storage]\npath = "wire.db"\n', encoding="utf-8")
    (tmp_path / "mine.opml").write_bytes(NESTED)

    first = run(tmp_path, "import-opml", "mine.opml")
    second = run(tmp_path, "import-opml", "mine.opml")
    assert first.returncode == 0, first.stderr
    assert "3 sources added, 0 already subscribed" in first.stdout
    assert "0 sources added, 3 already subscribed" in second.stdout

    listed = json.loads(run(tmp_path, "list", "--json").stdout)
    by_url = {s["url"]: s for s in listed}
    assert by_url["https://pacific.example/feed.xml"]["topics"] == ["world-news", "asia-pacific"]
    assert by_url["https://pacific.example/feed.xml"]["name"] == "Pacific Wire"

    exported = run(tmp_path, "export-opml", "-o", "out.opml")
    assert exported.returncode == 0, exported.stderr
    again = {(f.url, f.topics) for f in parse_opml((tmp_path / "out.opml").read_bytes(), "out.opml")}
    assert again == {(f.url, f.topics) for f in parse_opml(NESTED, "mine.opml")}

    assert run(tmp_path, "pause", "https://loose.example/atom.xml").returncode == 0
    paused = {s["url"]: s["enabled"] for s in json.loads(run(tmp_path, "list", "--json").stdout)}
    assert paused["https://loose.example/atom.xml"] is False
    assert run(tmp_path, "resume", "https://loose.example/atom.xml").returncode == 0
    resumed = {s["url"]: s for s in json.loads(run(tmp_path, "list", "--json").stdout)}
    assert resumed["https://loose.example/atom.xml"]["enabled"] is True
    assert resumed["https://loose.example/atom.xml"]["next_fetch_at"] is None


def test_cli_import_of_a_missing_file_exits_2_and_adds_nothing(tmp_path: Path) -> None:
    (tmp_path / "offthewire.toml").write_text('[storage]\npath = "wire.db"\n', encoding="utf-8")
    result = run(tmp_path, "import-opml", "missing.opml")
    assert result.returncode == 2
    assert "missing.opml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(run(tmp_path, "list", "--json").stdout) == []


def test_pause_of_an_unknown_source_exits_1(tmp_path: Path) -> None:
    (tmp_path / "offthewire.toml").write_text('[storage]\npath = "wire.db"\n', encoding="utf-8")
    result = run(tmp_path, "pause", "42")
    assert result.returncode == 1
    assert "42" in result.stderr
