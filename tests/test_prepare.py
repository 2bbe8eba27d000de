"""Preparing entries to store: a feed that changed is mostly entries stored before, which are not
prepared again; new and rewritten entries are, and a key repeated in a feed keeps its first copy.
Prepared headlines carry the names worked out for matching."""

from __future__ import annotations

import pickle

from aggregator.prepare import prepare_changed_items, prepare_items
from aggregator.stories import compare, headline
from aggregator.topics import TopicMatcher
from aggregator.types import Entry, Source, Topic

SOURCE = Source(1, "https://wire.example/feed.xml")
MATCHER = TopicMatcher([Topic("energy", "Energy", keywords=("oil",))])
FIRST = [
    Entry("a", "Oil depot fire in Valmora", "https://wire.example/a", summary="<p>Smoke over the port.</p>"),
    Entry("b", "Council votes on tram line", "https://wire.example/b"),
]


def test_every_entry_of_a_new_feed_is_prepared_with_its_version() -> None:
    items, versions = prepare_changed_items(SOURCE, FIRST, MATCHER)
    assert [item.key for item in items] == ["id:a", "id:b"]
    assert items[0].topics == ("energy",) and items[0].match_keys
    assert len(versions) == 2
    assert items == prepare_items(SOURCE, FIRST, MATCHER)


def test_entries_stored_before_are_skipped_and_new_or_rewritten_ones_prepared() -> None:
    _, stored = prepare_changed_items(SOURCE, FIRST, MATCHER)
    rewritten = Entry("b", "Council approves tram line", "https://wire.example/b")
    new = Entry("c", "Harbour dredging starts", "https://wire.example/c")
    items, versions = prepare_changed_items(SOURCE, [new, FIRST[0], rewritten], MATCHER, stored)
    assert [(item.key, item.title) for item in items] == [("id:c", "Harbour dredging starts"),
                                                          ("id:b", "Council approves tram line")]  # fmt: skip
    _, again = prepare_changed_items(SOURCE, [new, FIRST[0], rewritten], MATCHER)
    assert versions == again  # every entry's version, skipped or not
    assert prepare_changed_items(SOURCE, [new, FIRST[0], rewritten], MATCHER, versions)[0] == []


def test_a_key_repeated_in_a_feed_keeps_its_first_copy_even_when_that_copy_is_stored() -> None:
    _, stored = prepare_changed_items(SOURCE, FIRST, MATCHER)
    copy = Entry("a", "Oil depot fire in Valmora: a second, different copy", "https://wire.example/a")
    items, _ = prepare_changed_items(SOURCE, [FIRST[0], copy], MATCHER, stored)
    assert items == []


def test_prepared_headlines_carry_their_names_to_the_process_that_matches_stories() -> None:
    entry = Entry("d", "Okafor strikes late as Northbridge edge Castlegate", "https://wire.example/d",
                  summary="<p>Northbridge United beat Castlegate Rovers 2-1 on Saturday.</p>")  # fmt: skip
    (item,) = prepare_items(SOURCE, [entry], MATCHER)
    arrived = pickle.loads(pickle.dumps(item.match))  # as the parser processes send it
    assert {"names", "capitalised", "mentions", "initials"} <= set(vars(arrived))
    fresh = headline(entry.title, "Northbridge United beat Castlegate Rovers 2-1 on Saturday.")
    other = headline("Northbridge United beat Castlegate Rovers 2-1")
    assert compare(arrived, other) == compare(fresh, other) and compare(arrived, other).same
