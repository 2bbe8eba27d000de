"""Per-source rights modes: "full", "summary" or "title" decide how much of a source's text every
output carries; a feed's own rights statement travels with its entries as atom:rights."""

from __future__ import annotations

import json
from typing import Any

import feedparser
from conftest import Wire, minutes_ago
from feedserver import FeedServer

LONG_TEXT = " ".join(f"Sentence {n} of the full wire report, which its terms forbid republishing." for n in range(40))


def wire_feed(prefix: str, rights: str) -> bytes:
    """An RSS 2.0 feed with a copyright line and one entry with a long description and full content."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>{prefix.title()} Wire</title><link>https://{prefix}.example/</link>
<description>x</description><copyright>{rights}</copyright>
<item><title>{prefix.title()} desk reports a harbour strike in Valmora</title>
<link>https://{prefix}.example/strike</link><guid>urn:{prefix}:1</guid>
<pubDate>{minutes_ago(5 + len(prefix)).strftime("%a, %d %b %Y %H:%M:%S +0000")}</pubDate>
<description>&lt;p&gt;{LONG_TEXT}&lt;/p&gt;</description>
<content:encoded>&lt;p&gt;FULL BODY {prefix}. {LONG_TEXT}&lt;/p&gt;</content:encoded>
</item></channel></rss>""".encode()


def by_source(document: Any) -> dict[str, Any]:
    return {entry.title.split()[0].lower(): entry for entry in document.entries}


def test_each_mode_limits_the_text_in_every_format(wire: Wire, feed_server: FeedServer) -> None:
    for prefix, mode in (("alpha", "full"), ("bravo", "summary"), ("charlie", "title")):
        url = feed_server.serve(f"/{prefix}.xml", wire_feed(prefix, f"Copyright {prefix.title()} Media"))
        wire.ok("add", url, "--rights", mode)
    assert wire.run("poll").returncode == 0
    assert {s["url"].split("/")[-1]: s["rights"] for s in wire.json("list")} == {
        "alpha.xml": "full",
        "bravo.xml": "summary",
        "charlie.xml": "title",
    }

    atom = by_source(feedparser.parse((wire.public / "off-the-wire.atom").read_bytes()))
    assert "FULL BODY alpha" in atom["alpha"].content[0].value
    assert "Sentence 39" in atom["alpha"].summary
    assert "content" not in atom["bravo"]
    assert "FULL BODY" not in atom["bravo"].summary
    assert 200 < len(atom["bravo"].summary) <= 310 and atom["bravo"].summary.endswith("…")
    assert "content" not in atom["charlie"]
    assert "Sentence" not in atom["charlie"].summary
    assert atom["charlie"].summary == atom["charlie"].title
    assert atom["alpha"].rights == "Copyright Alpha Media"
    assert atom["charlie"].rights == "Copyright Charlie Media"

    rss = by_source(feedparser.parse((wire.public / "off-the-wire.rss").read_bytes()))
    assert "Sentence 39" in rss["alpha"].summary
    assert "Sentence 39" not in rss["bravo"].summary and "Sentence 1 " in rss["bravo"].summary
    assert "Sentence" not in rss["charlie"].summary

    items = {
        i["title"].split()[0].lower(): i for i in json.loads((wire.public / "off-the-wire.json").read_text())["items"]
    }
    assert "FULL BODY alpha" in items["alpha"]["content_html"]
    assert "FULL BODY" not in items["bravo"]["content_html"] and len(items["bravo"]["content_html"]) < 400
    assert "Sentence" not in items["charlie"]["content_html"]


def test_changing_a_mode_republishes_and_bad_modes_are_refused(wire: Wire, feed_server: FeedServer) -> None:
    url = feed_server.serve("/alpha.xml", wire_feed("alpha", "Copyright Alpha Media"))
    source_id = wire.add(url)
    assert wire.run("poll").returncode == 0
    assert "FULL BODY" in (wire.public / "off-the-wire.atom").read_text()

    changed = wire.run("rights", str(source_id), "title")
    assert changed.returncode == 0, changed.stderr
    assert "title" in changed.stdout
    feed = (wire.public / "off-the-wire.atom").read_text()
    assert "FULL BODY" not in feed and "Sentence" not in feed

    for args in (("rights", str(source_id), "everything"), ("add", "https://x.example/feed", "--rights", "some")):
        refused = wire.run(*args)
        assert refused.returncode == 2
        assert "invalid choice" in refused.stderr and "full" in refused.stderr
    missing = wire.run("rights", "999", "full")
    assert missing.returncode == 1 and "999" in missing.stderr
    assert [s["rights"] for s in wire.json("list")] == ["title"]
