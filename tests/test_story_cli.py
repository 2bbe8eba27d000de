"""The story commands a person uses to see and question matching: `stories`, `why`, `topics test`,
and their error paths. What matching decides is asked of the Aggregator directly; the commands are
run for what they print."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Wire, now_utc, rss
from fakes import FakeClock, FakeFetcher, aggregator_for

from aggregator.core import Aggregator

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SHARED = "https://agency.example/world/lisbon-fisheries-pact-48213"
HARBOUR = "https://harbour.example/feed.xml"
MERIDIAN = "https://meridian.example/feed.xml"


def ago(minutes: float) -> datetime:
    return T0 - timedelta(minutes=minutes)


def entries(outlet: str, tracking: str, now: datetime = T0) -> list[tuple[Any, ...]]:
    return [
        (
            f"urn:{outlet}:pact",
            f"Coastal states sign fisheries pact in Lisbon | {outlet.title()}",
            SHARED + tracking,
            now - timedelta(minutes=20),
        ),
        (
            f"urn:{outlet}:own",
            f"{outlet.title()} opens a new bureau in Quito",
            f"https://{outlet}.example/bureau",
            now - timedelta(minutes=30),
        ),
    ]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def fetcher() -> FakeFetcher:
    return FakeFetcher()


@pytest.fixture
def aggregator(wire: Wire, clock: FakeClock, fetcher: FakeFetcher) -> Iterator[Aggregator]:
    """The `wire` installation's Aggregator, polling through `fetcher` at `clock`'s time."""
    with aggregator_for(wire.config, clock, fetcher) as aggregator:
        yield aggregator


def subscribe(aggregator: Aggregator, fetcher: FakeFetcher, url: str, name: str, feed: list[tuple[Any, ...]]) -> None:
    fetcher.documents[url] = rss(feed)
    aggregator.add_source(url, name=name)


def poll(aggregator: Aggregator) -> None:
    summary = aggregator.poll()
    assert not summary.failed, summary.failed


def item_ids(aggregator: Aggregator) -> dict[str, int]:
    return {item.title: item.id for item in aggregator.items()}


def two_outlets(aggregator: Aggregator, fetcher: FakeFetcher, now: datetime = T0) -> None:
    subscribe(aggregator, fetcher, HARBOUR, "Harbour Daily", entries("harbour", "", now))
    subscribe(aggregator, fetcher, MERIDIAN, "Meridian Wire", entries("meridian", "?utm_source=rss", now))
    poll(aggregator)


@pytest.fixture
def two_outlets_polled(wire: Wire) -> Wire:
    """The two outlets polled once, directly at the wall clock's time (the CLI's), for the commands."""
    fetcher = FakeFetcher()
    with aggregator_for(wire.config, fetcher=fetcher) as aggregator:
        two_outlets(aggregator, fetcher, now_utc())
    return wire


def test_stories_join_the_two_reports_of_one_article(aggregator: Aggregator, fetcher: FakeFetcher) -> None:
    two_outlets(aggregator, fetcher)

    stories = aggregator.stories()

    pact = [s for s in stories if "fisheries pact" in s.first.title]
    assert len(pact) == 1
    assert {r.source for r in pact[0].reports} == {"Harbour Daily", "Meridian Wire"}
    assert len(stories) == 3  # the pact, and each outlet's own bureau story


def test_why_names_the_rule_that_joined_two_reports_and_the_one_that_kept_two_apart(
    aggregator: Aggregator, fetcher: FakeFetcher
) -> None:
    two_outlets(aggregator, fetcher)
    items = item_ids(aggregator)
    pact = [items[t] for t in items if "fisheries pact" in t]
    bureaus = [items[t] for t in items if "bureau" in t]

    joined = aggregator.why(pact[0], pact[1])
    apart = aggregator.why(bureaus[0], bureaus[1])

    assert joined.same is True
    assert joined.stored_together is True
    assert joined.reason.startswith("both link to the same article")
    assert apart.same is False
    assert apart.stored_together is False
    assert "different names" in apart.reason


def test_stories_prints_each_story_with_its_outlets_and_as_json(two_outlets_polled: Wire) -> None:
    stories = two_outlets_polled.json("stories")
    pact = [s for s in stories if "fisheries pact" in s["title"]]
    assert len(pact) == 1
    assert {r["source"] for r in pact[0]["reports"]} == {"Harbour Daily", "Meridian Wire"}
    assert len(stories) == 3
    text = two_outlets_polled.ok("stories")
    assert "[2 outlets]" in text


def test_stories_shows_an_outlets_revisions_of_a_story_in_order(wire: Wire) -> None:
    fetcher = FakeFetcher()
    now = now_utc()
    with aggregator_for(wire.config, fetcher=fetcher) as aggregator:
        title = "Fire at Osaka chemical plant forces evacuations"
        feed = [
            ("first", title, "https://wire.example/a", now - timedelta(hours=3)),
            ("second", "UPDATE 1-" + title, "https://wire.example/b", now - timedelta(hours=2)),
            ("third", "UPDATE 2-" + title + " of 2,000", "https://wire.example/c", now - timedelta(hours=1)),
        ]
        subscribe(aggregator, fetcher, "https://wire.example/feed", "Northstar Wire", feed)
        poll(aggregator)

    [story] = wire.json("stories")
    assert [(r["title"], r["revision"]) for r in story["reports"]] == [
        (title, 1),
        ("UPDATE 1-" + title, 2),
        ("UPDATE 2-" + title + " of 2,000", 3),
    ]
    text = wire.ok("stories")
    assert "Northstar Wire (revision 3): UPDATE 2-" in text


def test_why_prints_the_verdict_as_json(two_outlets_polled: Wire) -> None:
    items = {i["title"]: i["id"] for i in two_outlets_polled.json("items")}
    pact = [items[t] for t in items if "fisheries pact" in t]

    joined = two_outlets_polled.json("why", str(pact[0]), str(pact[1]))

    assert joined["items"] == pact
    assert joined["same_story"] is True
    assert joined["stored_as_one_story"] is True
    assert joined["reason"].startswith("both link to the same article")
    assert isinstance(joined["similarity"], float)


def test_why_of_an_unknown_item_exits_1_with_one_sentence(two_outlets_polled: Wire) -> None:
    result = two_outlets_polled.run("why", "1", "99999")
    assert result.returncode == 1
    assert "There is no item 99999" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_explain_of_an_unknown_source_exits_1(wire: Wire) -> None:
    result = wire.run("explain", "https://nowhere.example/feed.xml")
    assert result.returncode == 1
    assert "nowhere.example" in result.stderr


def test_topics_test_shows_which_topics_join_and_why(wire: Wire) -> None:
    verdicts = {v["topic"]: v for v in wire.json("topics", "test", "Marathon record falls in Berlin")}
    assert verdicts["sports"]["joins"] is True
    assert verdicts["sports"]["reason"] == "keyword 'marathon' matched"
    assert all(not v["joins"] for slug, v in verdicts.items() if slug != "sports")


def test_topics_test_without_a_headline_exits_2(wire: Wire) -> None:
    result = wire.run("topics", "test")
    assert result.returncode == 2
    assert "needs a headline" in result.stderr


def test_reports_of_a_story_developing_hours_apart_are_one_story(aggregator: Aggregator, fetcher: FakeFetcher) -> None:
    first = ("urn:harbour:kerala", "Floods in India's Kerala kill 12 after days of heavy rain", None, ago(340))
    later = (
        "urn:meridian:kerala",
        "Kerala floods: death toll climbs to 22 as rescuers search for missing",
        None,
        ago(40),
    )
    subscribe(aggregator, fetcher, HARBOUR, "Harbour Daily", [first])
    subscribe(aggregator, fetcher, MERIDIAN, "Meridian Wire", [later])
    poll(aggregator)

    [story] = aggregator.stories()
    assert {r.source for r in story.reports} == {"Harbour Daily", "Meridian Wire"}
    ids = [item.id for item in aggregator.items()]
    verdict = aggregator.why(*ids)
    assert verdict.same is True
    assert verdict.reason == "a story developing: both name kerala and tell of flood, 5 h apart"


def test_a_name_many_stories_carry_does_not_join_reports_hours_apart(
    aggregator: Aggregator, fetcher: FakeFetcher, clock: FakeClock
) -> None:
    paris = [
        ("urn:a:1", "Police in Paris arrest suspect in jewel heist", None, ago(200)),
        ("urn:a:2", "Museum in Paris reopens after renovation", None, ago(190)),
        ("urn:a:3", "Marathon in Paris draws record field", None, ago(180)),
        ("urn:a:4", "Metro strike in Paris disrupts commuters", None, ago(170)),
    ]
    camp = ("urn:b:1", "Police clear migrant camp in Paris", None, ago(60))
    subscribe(aggregator, fetcher, HARBOUR, "Harbour Daily", paris)
    poll(aggregator)
    clock.advance(minutes=1)
    subscribe(aggregator, fetcher, MERIDIAN, "Meridian Wire", [camp])
    poll(aggregator)

    assert len(aggregator.stories()) == 5  # "Paris" and "police" in common, but Paris is in every story
    ids = item_ids(aggregator)
    assert aggregator.why(ids[camp[1]], ids[paris[0][1]]).same is False


def test_one_story_in_english_and_chinese_is_one_story_and_another_typhoon_is_not(
    aggregator: Aggregator, fetcher: FakeFetcher
) -> None:
    english = (
        "urn:meridian:senbai",
        "Typhoon Senbai makes landfall in Fujian, forcing 400,000 to evacuate",
        None,
        ago(150),
    )
    chinese = ("urn:huaxia:senbai", "台风“森白”登陆福建 已致2人死亡", None, ago(30))
    other = ("urn:huaxia:haikui", "台风“海葵”在广东湛江登陆", None, ago(20))
    subscribe(aggregator, fetcher, MERIDIAN, "Meridian Wire", [english])
    subscribe(aggregator, fetcher, "https://huaxia.example/feed.xml", "华夏通讯社", [chinese, other])
    poll(aggregator)

    stories = aggregator.stories()
    assert len(stories) == 2
    [senbai] = [s for s in stories if len(s.reports) == 2]
    assert {r.title for r in senbai.reports} == {english[1], chinese[1]}
    ids = item_ids(aggregator)
    joined = aggregator.why(ids[chinese[1]], ids[english[1]])
    assert joined.same is True
    assert joined.reason == "one story in zh and en: both give fujian and senbai, 2 h apart"
    assert aggregator.why(ids[other[1]], ids[english[1]]).same is False
