"""The rendered-entry cache of aggregator.publish: documents rendered from cached entries are
byte-identical to fresh renders, a story's entry is rendered once for every document it is in,
and any change to a story or to what its entry shows renders it again."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import timedelta, timezone
from typing import Any

import pytest
from feedgen.entry import FeedEntry
from test_publish import BASE_URL, HARBOUR, INSTALL_ID, MERGED, PACIFIC, STORIES, T0, TOPICS, TYPHOON, item

from aggregator import publish
from aggregator.publish import (
    FORMATS,
    FeedContext,
    FeedSpec,
    Paging,
    clear_entry_cache,
    render,
    topic_feed_file,
    topic_feed_path,
)
from aggregator.types import Story, Topic

CONTEXT = FeedContext(INSTALL_ID, BASE_URL, TOPICS, T0)
WORLD = FeedSpec(topic_feed_path("world"), topic_feed_file("world"), "Off the wire: World", "World news", "world")
ARCHIVE = Paging(archive_self=BASE_URL + "feeds/archive/off-the-wire/1.atom")


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    clear_entry_cache()
    yield
    clear_entry_cache()


def documents(stories: tuple[Story, ...], context: FeedContext = CONTEXT) -> list[bytes]:
    """Every format of the merged feed and a topic feed, and an archive page."""
    rendered = [render(fmt, spec, stories, context, Paging()) for spec in (MERGED, WORLD) for fmt in FORMATS]
    return [*rendered, render("atom", MERGED, stories, context, ARCHIVE)]


def fresh(stories: tuple[Story, ...], context: FeedContext = CONTEXT) -> list[bytes]:
    clear_entry_cache()
    return documents(stories, context)


def test_cached_documents_equal_fresh_ones() -> None:
    first = documents(STORIES)
    again = documents(STORIES)
    copies = documents(tuple(dataclasses.replace(story) for story in STORIES))  # equal, not the same objects
    assert first == again == copies == fresh(STORIES)


def test_a_story_is_rendered_once_per_format(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[tuple[str, str]] = []

    def counted(fmt: str) -> Callable[..., FeedEntry]:
        build = getattr(publish, f"_{fmt}_entry")

        def count(story: Story, *args: Any) -> FeedEntry:
            rendered.append((fmt, story.key))
            return build(story, *args)

        return count

    for fmt in ("atom", "rss"):
        monkeypatch.setattr(publish, f"_{fmt}_entry", counted(fmt))
    documents(STORIES)
    documents(STORIES)
    assert sorted(rendered) == sorted((fmt, story.key) for fmt in ("atom", "rss") for story in STORIES)


def credited(story: Story) -> Story:
    report = item(16, HARBOUR, "Typhoon Senbai weakens", "https://harbour.example/typhoon-weakens", 50)
    return dataclasses.replace(story, reports=(*story.reports, report), updated=report.updated)


def retitled(story: Story) -> Story:
    first = dataclasses.replace(story.first, title="Typhoon Senbai makes landfall near Xiamen")
    return dataclasses.replace(story, reports=(first, *story.reports[1:]))


def rights(mode: str) -> Callable[[Story], Story]:
    def change(story: Story) -> Story:
        first = dataclasses.replace(story.first, rights_mode=mode, source_rights="© Meridian Wire")
        return dataclasses.replace(story, reports=(first, *story.reports[1:]))

    return change


def other_offset(story: Story) -> Story:
    """The same instants, printed with another UTC offset: equal datetimes, other text."""
    tz = timezone(timedelta(hours=8))
    first = dataclasses.replace(story.first, published=story.first.published.astimezone(tz))
    return dataclasses.replace(story, reports=(first, *story.reports[1:]), updated=story.updated.astimezone(tz))


def retopiced(story: Story) -> Story:
    return dataclasses.replace(story, topics=("world",))


@pytest.mark.parametrize(
    "change",
    [credited, retitled, rights("summary"), rights("title"), other_offset, retopiced],
    ids=["credited", "retitled", "summary-rights", "title-rights", "utc-offset", "topics"],
)
def test_a_changed_story_is_rendered_again(change: Callable[[Story], Story]) -> None:
    changed = change(TYPHOON)
    before = documents(STORIES)
    after = documents((changed, STORIES[1]))
    assert after == fresh((changed, STORIES[1]))
    assert after != before


def test_the_same_instant_in_another_offset_is_still_an_equal_story() -> None:
    # Why the cache key carries the offsets: the dataclass equality alone would call them the same.
    assert other_offset(TYPHOON) == TYPHOON
    assert other_offset(TYPHOON).updated.utcoffset() != TYPHOON.updated.utcoffset()


@pytest.mark.parametrize(
    "context",
    [
        dataclasses.replace(CONTEXT, base_url="https://news.example.org/"),
        dataclasses.replace(CONTEXT, topics={**TOPICS, "world": Topic("world", "The world")}),
    ],
    ids=["base-url", "topic-title"],
)
def test_a_changed_context_renders_entries_again(context: FeedContext) -> None:
    before = documents(STORIES)
    after = documents(STORIES, context)
    assert after == fresh(STORIES, context)
    assert after != before


def test_the_cache_is_bounded() -> None:
    many = tuple(
        dataclasses.replace(TYPHOON, id=n, key=f"00000000-0000-5000-8000-{n:012d}", reports=(TYPHOON.first,))
        for n in range(publish.ENTRY_CACHE_SIZE + 10)
    )
    render("rss", MERGED, many, CONTEXT, Paging())
    assert publish._rendered_entry.cache_info().currsize == publish.ENTRY_CACHE_SIZE
    cached = render("rss", MERGED, many[:3], CONTEXT, Paging())  # the oldest, dropped: rendered again
    clear_entry_cache()
    assert cached == render("rss", MERGED, many[:3], CONTEXT, Paging())


def test_a_report_without_a_link_renders_the_same_from_the_cache() -> None:
    lone = dataclasses.replace(TYPHOON, reports=(item(31, PACIFIC, "Typhoon Senbai comes ashore", None),))
    assert documents((lone,)) == documents((lone,)) == fresh((lone,))
