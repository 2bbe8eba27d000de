"""The story index in memory: reports kept, replaced, forgotten and pruned; a story's provisional id
renamed; the story a new report joins (by link, unless the page was reused; by the rules among
candidates; a story of its own source only by a revision within hours); and an index built again
from the database after a restart matches new reports into the stories stored before it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import rss
from fakes import FakeClock, FakeFetcher, aggregator_in

from aggregator import stories
from aggregator.stories.index import Candidate, StoryIndex

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=72)
SENBAI = "Typhoon Senbai makes landfall in Fujian, forcing evacuations"
FILLER = [
    "Harbour cranes idle as dockers strike over pay in Rotterdam",
    "Orchard frost ruins apple harvest across Tyrol valleys",
    "Choir from Cork wins European trophy in Riga",
    "Tram depot floods after storm in Leeds",
    "Central bank of Chile holds its rate at 5 percent",
    "Wildfire near Marseille forces 2,000 to leave homes",
]


def report(title: str, source: int = 1, key: str | None = None, hours: float = 0, link: str | None = None) -> Candidate:
    head = stories.headline(title)
    return Candidate(
        source,
        key or title,
        T0 + timedelta(hours=hours),
        link,
        head,
        tuple(stories.lsh_keys(head)),
        tuple(stories.name_keys(head)),
        stories.text_digest(title, ""),
    )


def test_a_copy_from_another_source_joins_the_story() -> None:
    index = StoryIndex(WINDOW)
    index.add(report(SENBAI, source=1), 7)
    for n, title in enumerate(FILLER):
        index.add(report(title, source=1, hours=-n), 10 + n)

    assert index.match(report("UPDATE 1-" + SENBAI, source=2, hours=1)) == 7
    assert index.match(report("Lottery numbers drawn on Saturday", source=2)) is None


def test_its_own_source_joins_a_story_with_a_revision_within_hours_not_a_day_later() -> None:
    index = StoryIndex(WINDOW)
    index.add(report(SENBAI, source=1), 7)

    assert index.match(report("UPDATE 1-" + SENBAI, source=1, hours=1)) == 7
    # The same headline from the same outlet a day later is the next of a recurring report.
    assert index.match(report(SENBAI, source=1, key="next day", hours=24)) is None
    # Another outlet's copy a day later still joins (the story developing across outlets).
    assert index.match(report(SENBAI, source=2, hours=24)) == 7


def test_a_report_outside_the_window_is_no_candidate() -> None:
    index = StoryIndex(WINDOW)
    index.add(report(SENBAI, source=1), 7)

    assert index.match(report("UPDATE 1-" + SENBAI, source=2, hours=WINDOW.total_seconds() / 3600 + 1)) is None


def test_the_same_link_joins_unless_the_page_was_reused_for_other_news_a_day_later() -> None:
    index = StoryIndex(WINDOW)
    page = "https://weather.example/warnings"
    index.add(report("Weather warning for Oslo as freezing rain expected", link=page), 3)

    assert index.match(report("Oslo freezing rain: roads closed", source=2, hours=2, link=page)) == 3
    reused = report("Weather warning for Bergen as storm nears", source=2, hours=30, link=page)
    assert index.match(reused) is None


def test_a_revision_replaces_the_report_and_discarding_forgets_it_everywhere() -> None:
    index = StoryIndex(WINDOW)
    index.add(report(SENBAI, key="k"), 7)
    index.add(report(FILLER[0], key="k"), 7)  # the same item, rewritten

    assert len(index) == 1
    assert index.match(report("UPDATE 1-" + SENBAI, source=2)) is None
    assert index.match(report("UPDATE 1-" + FILLER[0], source=2)) == 7
    index.discard(1, "k")
    assert len(index) == 0 and index.story_sizes() == {}
    assert index.match(report("UPDATE 1-" + FILLER[0], source=2)) is None


def test_pruning_forgets_reports_published_before_a_time() -> None:
    index = StoryIndex(WINDOW)
    index.add(report(SENBAI, key="old", hours=-100), 1)
    index.add(report(FILLER[0], key="new"), 2)

    assert index.prune(T0 - WINDOW) == 1
    assert index.story_sizes() == {2: 1}


def test_a_report_revised_to_a_later_time_is_pruned_at_its_new_time() -> None:
    index = StoryIndex(WINDOW)
    index.add(report(SENBAI, key="revised", hours=-100), 1)
    index.add(report(SENBAI + " as it weakens", key="revised", hours=-10), 1)
    index.add(report(FILLER[0], key="dropped", hours=-90), 2)
    index.discard(1, "dropped")

    assert index.prune(T0 - WINDOW) == 0
    assert index.story_sizes() == {1: 1}
    assert index.prune(T0) == 1
    assert index.story_sizes() == {}


def test_a_report_number_left_is_taken_again_and_pruning_tells_the_newcomer_from_the_report_before() -> None:
    index = StoryIndex(WINDOW)
    for n, title in enumerate(FILLER):
        index.add(report(title, key=f"old{n}", hours=-100), 10 + n)
    for n in range(len(FILLER)):
        index.discard(1, f"old{n}")
    index.add(report(SENBAI, key="new"), 1)  # takes a number an old report left

    assert len(index.reports) == len(FILLER) and len(index) == 1
    assert index.prune(T0 - WINDOW) == 0  # the old reports' ages are stale, the newcomer is recent
    assert index.story_sizes() == {1: 1}
    assert index.match(report("UPDATE 1-" + SENBAI, source=2)) == 1


def test_a_provisional_story_is_renamed_with_every_report() -> None:
    index = StoryIndex(WINDOW)
    provisional = index.new_story()
    assert provisional < 0 and index.new_story() != provisional
    index.add(report(SENBAI, source=1), provisional)
    index.add(report("UPDATE 1-" + SENBAI, source=2), provisional)

    index.rename_story(provisional, 41)

    assert index.story_sizes() == {41: 2}
    assert index.match(report("UPDATE 2-" + SENBAI, source=3)) == 41


def test_a_source_removed_leaves_the_index() -> None:
    index = StoryIndex(WINDOW)
    index.add(report(SENBAI, source=1), 1)
    index.add(report(FILLER[0], source=2), 2)

    index.discard_source(1)

    assert index.story_sizes() == {2: 1}


def test_after_a_restart_new_reports_join_the_stories_stored_before_it(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    fetcher = FakeFetcher()
    first, second = "https://first.example/feed", "https://second.example/feed"
    titles = [SENBAI, *FILLER]
    fetcher.documents[first] = rss(
        [(f"a{n}", title, f"https://first.example/{n}", T0 - timedelta(hours=n)) for n, title in enumerate(titles)]
    )
    with aggregator_in(tmp_path, clock, fetcher) as before:
        before.add_source(first)
        assert before.poll(every_source=True, publish=False).outcomes[0].new == len(titles)
        stories_before = {item.title: item.story_id for item in before.items(limit=100)}

    clock.advance(hours=20)  # a restart: a new process builds its index from the database
    fetcher.documents[second] = rss(
        [
            ("b0", "UPDATE 1-" + SENBAI, "https://second.example/0", clock.now),
            ("b1", "Lottery numbers drawn on Saturday in Lyon", "https://second.example/1", clock.now),
        ]
    )
    with aggregator_in(tmp_path, clock, fetcher) as after:
        after.add_source(second)
        summary = after.poll([second], publish=False)
        stories_after = {item.title: item.story_id for item in after.items(limit=100)}

    assert (summary.outcomes[0].new, summary.outcomes[0].merged) == (2, 1)
    assert stories_after["UPDATE 1-" + SENBAI] == stories_before[SENBAI]
    assert stories_after["Lottery numbers drawn on Saturday in Lyon"] not in stories_before.values()


def test_a_source_removed_with_its_items_is_no_candidate_any_more(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    fetcher = FakeFetcher()
    first, second = "https://first.example/feed", "https://second.example/feed"
    fetcher.documents[first] = rss([("a0", SENBAI, "https://first.example/0", T0)])
    fetcher.documents[second] = rss([("b0", "UPDATE 1-" + SENBAI, "https://second.example/0", T0)])
    with aggregator_in(tmp_path, clock, fetcher) as aggregator:
        aggregator.add_source(first)
        aggregator.poll(every_source=True, publish=False)
        aggregator.remove_source(first)
        aggregator.add_source(second)

        summary = aggregator.poll([second], publish=False)

    assert (summary.outcomes[0].new, summary.outcomes[0].merged) == (1, 0)
