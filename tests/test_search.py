"""Full-text search (`items --search`): FTS5 phrase, prefix and boolean queries, ranked, following
the items through updates, removal and pruning."""

from __future__ import annotations

from typing import Any

from conftest import Wire, minutes_ago, rss
from feedserver import FeedServer

DESK = [
    ("urn:d:1", "Rare earth exports fall as quotas bite", "https://desk.example/1", minutes_ago(10),
     "<p>Shipments of <b>rare earth</b> metals dropped 12% in October.</p>"),
    ("urn:d:2", "Miners say earth movers are in short supply", "https://desk.example/2", minutes_ago(20),
     "<p>A rare shortage of heavy machinery slows new pits.</p>"),
    ("urn:d:3", "Election officials count postal ballots", "https://desk.example/3", minutes_ago(30),
     "<p>Turnout is expected to top 60%.</p>"),
    ("urn:d:4", "Electric buses join the city fleet", "https://desk.example/4", minutes_ago(40),
     "<p>The council bought 40 buses; none run on diesel.</p>"),
    ("urn:d:5", "Marathon route avoids the election rally", "https://desk.example/5", minutes_ago(50),
     "<p>Runners and voters share the square on Sunday.</p>"),
    ("urn:d:6", "Café owners protest new terrace rules", "https://desk.example/6", minutes_ago(60),
     "<p>Owners say the rules &amp; fees hurt small businesses.</p>"),
]  # fmt: skip


def search(wire: Wire, query: str, *options: str) -> list[str]:
    result: list[dict[str, Any]] = wire.json("items", "--search", query, *options)
    return [item["title"] for item in result]


def polled_desk(wire: Wire, feed_server: FeedServer) -> str:
    url = feed_server.serve("/desk.xml", rss(DESK))
    wire.add(url)
    assert wire.run("poll").returncode == 0
    return url


def test_words_phrases_prefixes_and_booleans(wire: Wire, feed_server: FeedServer) -> None:
    polled_desk(wire, feed_server)
    title = {n: entry[1] for n, entry in enumerate(DESK, 1)}

    # Words: all must match, headline or summary; a headline match ranks above a summary one.
    assert search(wire, "rare earth") == [title[1], title[2]]
    assert search(wire, '"rare earth"') == [title[1]]
    assert set(search(wire, "elect*")) == {title[3], title[4], title[5]}
    assert set(search(wire, "election OR buses")) == {title[3], title[4], title[5]}
    assert search(wire, "election NOT marathon") == [title[3]]
    # Accents and entities: "cafe" finds "Café", and the summary's "&amp;" is text, not a word.
    assert search(wire, "cafe") == [title[6]]
    assert search(wire, "amp") == []
    # Tags are not words.
    assert search(wire, "p OR b") == []
    # Filters combine with the query.
    assert search(wire, "election", "--topic", "sports") == [title[5]]
    assert search(wire, "zebra") == []


def test_ranking_prefers_headline_matches(wire: Wire, feed_server: FeedServer) -> None:
    polled_desk(wire, feed_server)
    # "rare" is in item 1's headline and item 2's summary only.
    assert search(wire, "rare") == [DESK[0][1], DESK[1][1]]


def test_text_that_is_not_query_syntax_is_searched_as_words(wire: Wire, feed_server: FeedServer) -> None:
    polled_desk(wire, feed_server)
    # A hyphenated word is searched as the phrase it is.
    assert search(wire, "rare-earth") == [DESK[0][1]]
    assert search(wire, '"unbalanced quote') == []
    table = wire.ok("items", "--search", "terrace")
    assert "HEADLINE" in table and DESK[5][1] in table


def test_an_empty_search_is_an_error(wire: Wire, feed_server: FeedServer) -> None:
    polled_desk(wire, feed_server)
    result = wire.run("items", "--search", "  ")
    assert result.returncode == 2
    assert "The search is empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_index_follows_updates_and_removals(wire: Wire, feed_server: FeedServer) -> None:
    url = polled_desk(wire, feed_server)
    changed = list(DESK)
    changed[2] = ("urn:d:3", "Recount ordered in the northern district", "https://desk.example/3", minutes_ago(30))
    feed_server.update("/desk.xml", body=rss(changed))
    assert wire.run("poll", "--all").returncode == 0
    assert search(wire, "recount") == [changed[2][1]]
    assert search(wire, "postal") == []

    assert wire.run("remove", url).returncode == 0
    assert search(wire, "rare") == []
    assert search(wire, "recount") == []
