"""The story commands a person uses to see and question matching: `stories`, `why`, `topics test`,
and their error paths."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Wire, minutes_ago, rss
from feedserver import FeedServer

SHARED = "https://agency.example/world/lisbon-fisheries-pact-48213"


def entries(outlet: str, tracking: str) -> list[tuple[Any, ...]]:
    return [
        (
            f"urn:{outlet}:pact",
            f"Coastal states sign fisheries pact in Lisbon | {outlet.title()}",
            SHARED + tracking,
            minutes_ago(20),
        ),
        (
            f"urn:{outlet}:own",
            f"{outlet.title()} opens a new bureau in Quito",
            f"https://{outlet}.example/bureau",
            minutes_ago(30),
        ),
    ]


@pytest.fixture
def two_outlets(wire: Wire, feed_server: FeedServer) -> Wire:
    wire.add(feed_server.serve("/harbour.xml", rss(entries("harbour", ""))), "--name", "Harbour Daily")
    wire.add(feed_server.serve("/meridian.xml", rss(entries("meridian", "?utm_source=rss"))), "--name", "Meridian Wire")
    assert wire.run("poll").returncode == 0
    return wire


def test_stories_lists_one_story_with_both_reports(two_outlets: Wire) -> None:
    stories = two_outlets.json("stories")
    pact = [s for s in stories if "fisheries pact" in s["title"]]
    assert len(pact) == 1
    assert {r["source"] for r in pact[0]["reports"]} == {"Harbour Daily", "Meridian Wire"}
    assert len(stories) == 3  # the pact, and each outlet's own bureau story
    text = two_outlets.ok("stories")
    assert "[2 outlets]" in text


def test_why_names_the_rule_that_joined_two_reports_and_the_one_that_kept_two_apart(two_outlets: Wire) -> None:
    items = {i["title"]: i["id"] for i in two_outlets.json("items")}
    pact = [items[t] for t in items if "fisheries pact" in t]
    bureaus = [items[t] for t in items if "bureau" in t]

    joined = two_outlets.json("why", str(pact[0]), str(pact[1]))
    apart = two_outlets.json("why", str(bureaus[0]), str(bureaus[1]))

    assert joined["same_story"] is True
    assert joined["stored_as_one_story"] is True
    assert joined["reason"].startswith("both link to the same article")
    assert apart["same_story"] is False
    assert apart["stored_as_one_story"] is False
    assert "different names" in apart["reason"]


def test_why_of_an_unknown_item_exits_1_with_one_sentence(two_outlets: Wire) -> None:
    result = two_outlets.run("why", "1", "99999")
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


def test_reports_of_a_story_developing_hours_apart_are_one_story(wire: Wire, feed_server: FeedServer) -> None:
    first = ("urn:harbour:kerala", "Floods in India's Kerala kill 12 after days of heavy rain", None, minutes_ago(340))
    later = (
        "urn:meridian:kerala",
        "Kerala floods: death toll climbs to 22 as rescuers search for missing",
        None,
        minutes_ago(40),
    )
    wire.add(feed_server.serve("/harbour.xml", rss([first])), "--name", "Harbour Daily")
    wire.add(feed_server.serve("/meridian.xml", rss([later])), "--name", "Meridian Wire")
    assert wire.run("poll").returncode == 0

    [story] = wire.json("stories")
    assert {r["source"] for r in story["reports"]} == {"Harbour Daily", "Meridian Wire"}
    ids = [i["id"] for i in wire.json("items")]
    verdict = wire.json("why", *map(str, ids))
    assert verdict["same_story"] is True
    assert verdict["reason"] == "a story developing: both name kerala and tell of flood, 5 h apart"


def test_a_name_many_stories_carry_does_not_join_reports_hours_apart(wire: Wire, feed_server: FeedServer) -> None:
    paris = [
        ("urn:a:1", "Police in Paris arrest suspect in jewel heist", None, minutes_ago(200)),
        ("urn:a:2", "Museum in Paris reopens after renovation", None, minutes_ago(190)),
        ("urn:a:3", "Marathon in Paris draws record field", None, minutes_ago(180)),
        ("urn:a:4", "Metro strike in Paris disrupts commuters", None, minutes_ago(170)),
    ]
    camp = ("urn:b:1", "Police clear migrant camp in Paris", None, minutes_ago(60))
    wire.add(feed_server.serve("/a.xml", rss(paris)), "--name", "Harbour Daily")
    assert wire.run("poll").returncode == 0
    wire.add(feed_server.serve("/b.xml", rss([camp])), "--name", "Meridian Wire")
    assert wire.run("poll").returncode == 0

    assert len(wire.json("stories")) == 5  # "Paris" and "police" in common, but Paris is in every story
    ids = {i["title"]: i["id"] for i in wire.json("items")}
    verdict = wire.json("why", str(ids[camp[1]]), str(ids[paris[0][1]]))
    assert verdict["same_story"] is False


def test_one_story_in_english_and_chinese_is_one_story_and_another_typhoon_is_not(
    wire: Wire, feed_server: FeedServer
) -> None:
    english = (
        "urn:meridian:senbai",
        "Typhoon Senbai makes landfall in Fujian, forcing 400,000 to evacuate",
        None,
        minutes_ago(150),
    )
    chinese = ("urn:huaxia:senbai", "台风“森白”登陆福建 已致2人死亡", None, minutes_ago(30))
    other = ("urn:huaxia:haikui", "台风“海葵”在广东湛江登陆", None, minutes_ago(20))
    wire.add(feed_server.serve("/meridian.xml", rss([english])), "--name", "Meridian Wire")
    wire.add(feed_server.serve("/huaxia.xml", rss([chinese, other])), "--name", "华夏通讯社")
    assert wire.run("poll").returncode == 0

    stories = wire.json("stories")
    assert len(stories) == 2
    [senbai] = [s for s in stories if len(s["reports"]) == 2]
    assert {r["title"] for r in senbai["reports"]} == {english[1], chinese[1]}
    ids = {i["title"]: i["id"] for i in wire.json("items")}
    joined = wire.json("why", str(ids[chinese[1]]), str(ids[english[1]]))
    assert joined["same_story"] is True
    assert joined["reason"] == "one story in zh and en: both give fujian and senbai, 2 h apart"
    assert wire.json("why", str(ids[other[1]]), str(ids[english[1]]))["same_story"] is False
