"""Full-text search (`items --search`): FTS5 phrase, prefix and boolean queries, ranked, following
the items through updates, removal and pruning."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Wire, now_utc, rss
from fakes import FakeClock, FakeFetcher, aggregator_for

from aggregator.core import Aggregator
from aggregator.exceptions import ConfigError

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
URL = "https://desk.example/feed.xml"


def desk(now: datetime) -> list[tuple[Any, ...]]:
    def ago(minutes: int) -> datetime:
        return now - timedelta(minutes=minutes)

    return [
        ("urn:d:1", "Rare earth exports fall as quotas bite", "https://desk.example/1", ago(10),
         "<p>Shipments of <b>rare earth</b> metals dropped 12% in October.</p>"),
        ("urn:d:2", "Miners say earth movers are in short supply", "https://desk.example/2", ago(20),
         "<p>A rare shortage of heavy machinery slows new pits.</p>"),
        ("urn:d:3", "Election officials count postal ballots", "https://desk.example/3", ago(30),
         "<p>Turnout is expected to top 60%.</p>"),
        ("urn:d:4", "Electric buses join the city fleet", "https://desk.example/4", ago(40),
         "<p>The council bought 40 buses; none run on diesel.</p>"),
        ("urn:d:5", "Marathon route avoids the election rally", "https://desk.example/5", ago(50),
         "<p>Runners and voters share the square on Sunday.</p>"),
        ("urn:d:6", "Café owners protest new terrace rules", "https://desk.example/6", ago(60),
         "<p>Owners say the rules &amp; fees hurt small businesses.</p>"),
    ]  # fmt: skip


DESK = desk(T0)


def search(aggregator: Aggregator, query: str, topic: str | None = None) -> list[str]:
    return [item.title for item in aggregator.search(query, topic=topic)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def fetcher() -> FakeFetcher:
    fetcher = FakeFetcher()
    fetcher.documents[URL] = rss(DESK)
    return fetcher


@pytest.fixture
def polled_desk(wire: Wire, clock: FakeClock, fetcher: FakeFetcher) -> Iterator[Aggregator]:
    """The desk's feed subscribed and polled once, with the `wire` installation's topics."""
    with aggregator_for(wire.config, clock, fetcher) as aggregator:
        aggregator.add_source(URL)
        aggregator.poll()
        yield aggregator


def test_words_phrases_prefixes_and_booleans(polled_desk: Aggregator) -> None:
    title = {n: entry[1] for n, entry in enumerate(DESK, 1)}

    # Words: all must match, headline or summary; a headline match ranks above a summary one.
    assert search(polled_desk, "rare earth") == [title[1], title[2]]
    assert search(polled_desk, '"rare earth"') == [title[1]]
    assert set(search(polled_desk, "elect*")) == {title[3], title[4], title[5]}
    assert set(search(polled_desk, "election OR buses")) == {title[3], title[4], title[5]}
    assert search(polled_desk, "election NOT marathon") == [title[3]]
    # Accents and entities: "cafe" finds "Café", and the summary's "&amp;" is text, not a word.
    assert search(polled_desk, "cafe") == [title[6]]
    assert search(polled_desk, "amp") == []
    # Tags are not words.
    assert search(polled_desk, "p OR b") == []
    # Filters combine with the query.
    assert search(polled_desk, "election", topic="sports") == [title[5]]
    assert search(polled_desk, "zebra") == []


def test_ranking_prefers_headline_matches(polled_desk: Aggregator) -> None:
    # "rare" is in item 1's headline and item 2's summary only.
    assert search(polled_desk, "rare") == [DESK[0][1], DESK[1][1]]


def test_text_that_is_not_query_syntax_is_searched_as_words(polled_desk: Aggregator) -> None:
    # A hyphenated word is searched as the phrase it is.
    assert search(polled_desk, "rare-earth") == [DESK[0][1]]
    assert search(polled_desk, '"unbalanced quote') == []


def test_an_empty_search_is_refused(polled_desk: Aggregator) -> None:
    for query in ("", "  "):
        with pytest.raises(ConfigError, match="The search is empty"):
            polled_desk.search(query)


def test_the_index_follows_updates_and_removals(
    polled_desk: Aggregator, clock: FakeClock, fetcher: FakeFetcher
) -> None:
    changed = list(DESK)
    changed[2] = ("urn:d:3", "Recount ordered in the northern district", "https://desk.example/3", DESK[2][3])
    fetcher.documents[URL] = rss(changed)
    clock.advance(minutes=1)
    [outcome] = polled_desk.poll(every_source=True).outcomes
    assert (outcome.error, outcome.updated) == (None, 1)
    assert search(polled_desk, "recount") == [changed[2][1]]
    assert search(polled_desk, "postal") == []

    polled_desk.remove_source(URL)
    assert search(polled_desk, "rare") == []
    assert search(polled_desk, "recount") == []


def test_the_search_command_prints_a_table_json_and_refuses_an_empty_search(wire: Wire) -> None:
    """As a user runs it: a table of matches, the same matches as JSON, and an empty search an error."""
    fetcher = FakeFetcher()
    fetcher.documents[URL] = rss(desk(now_utc()))
    with aggregator_for(wire.config, fetcher=fetcher) as aggregator:
        aggregator.add_source(URL)
        aggregator.poll()

    table = wire.ok("items", "--search", "terrace")
    assert "HEADLINE" in table and DESK[5][1] in table
    found = wire.json("items", "--search", "rare earth")
    assert [item["title"] for item in found] == [DESK[0][1], DESK[1][1]]
    assert found[0]["source"] == "Test Feed" and found[0]["link"] == "https://desk.example/1"

    result = wire.run("items", "--search", "  ")
    assert result.returncode == 2
    assert "The search is empty" in result.stderr
    assert "Traceback" not in result.stderr
