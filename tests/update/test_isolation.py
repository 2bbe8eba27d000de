"""One source failing while it is stored never stops the others: its writes are undone, the failure
becomes its stored error, every other source is stored and published, and the next poll runs as
usual. Failures are planted in the storing of one source, in the main process and in a poll wide
enough to parse in the parser processes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import rss
from fakes import FakeClock, FakeFetcher, aggregator_in

from aggregator.core import Aggregator
from aggregator.exceptions import StorageError
from aggregator.stories.index import Candidate, StoryIndex
from aggregator.types import NewItem

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BAD = "https://bad.example/feed"


class PlantedFailure(Exception):
    pass


# Headlines that share no word, so that every report is a story of its own.
SUBJECTS = (
    "harbour cranes idle during dockers strike, ferry timetable cut, bridge tolls rise, orchard frost ruins "
    "apples, choir wins regional trophy, museum reopens mosaic hall, glacier retreat measured, chess prodigy "
    "draws champion, library extends evening hours, tram depot floods, vineyard harvest early, lighthouse "
    "keeper retires, airport runway resurfaced, salmon return upstream, volcano ash grounds gliders, "
    "bakery guild protests flour tariff, marathon course changed, observatory spots comet, textile mill "
    "closes, hospital opens burns unit, rail tunnel breakthrough, opera season announced, fishing quota "
    "trimmed, wildfire smoke closes schools, startup raises seed round, census counts nomads, parliament "
    "debates lottery, zoo welcomes twin pandas"
).split(", ")


def _feed(name: str, index: int) -> bytes:
    """Three reports of the `index`th source."""
    return rss(
        [
            (f"{name}-{n}", f"{name.title()}: {SUBJECTS[index * 3 + n]}", f"https://{name}.example/{n}", T0)
            for n in range(3)
        ]
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + timedelta(hours=1))


@pytest.fixture
def fetcher() -> FakeFetcher:
    return FakeFetcher()


@pytest.fixture
def aggregator(tmp_path: Path, clock: FakeClock, fetcher: FakeFetcher) -> Iterator[Aggregator]:
    with aggregator_in(tmp_path, clock, fetcher) as aggregator:
        yield aggregator


def _subscribe(aggregator: Aggregator, fetcher: FakeFetcher, names: Sequence[str]) -> None:
    for index, name in enumerate(names):
        url = BAD if name == "bad" else f"https://{name}.example/feed"
        aggregator.add_source(url)
        fetcher.documents[url] = _feed(name, index)


def _plant_after_items_are_written(aggregator: Aggregator, failure: Exception) -> None:
    """Fail storing the bad source after its items are inserted, so undoing them is tested too."""
    index = aggregator.store.index_for_search

    def failing(written: list[tuple[int, NewItem]]) -> None:
        index(written)
        if any(item.link and item.link.startswith("https://bad.example/") for _, item in written):
            raise failure

    aggregator.store.index_for_search = failing  # type: ignore[method-assign]


def _by_url(aggregator: Aggregator) -> dict[str, Any]:
    return {source.url: source for source in aggregator.sources()}


@pytest.mark.parametrize("count", [3, 9], ids=["inline", "parser-processes"])
def test_a_failure_storing_one_source_leaves_the_others_stored_and_published(
    aggregator: Aggregator, fetcher: FakeFetcher, count: int
) -> None:
    names = ["bad", *(f"good{n}" for n in range(count - 1))]
    _subscribe(aggregator, fetcher, names)
    _plant_after_items_are_written(aggregator, PlantedFailure("a planted failure"))

    summary = aggregator.poll(every_source=True)

    sources = _by_url(aggregator)
    bad = sources.pop(BAD)
    assert bad.last_error == "its entries could not be stored: PlantedFailure: a planted failure"
    assert bad.error_count == 1
    assert bad.item_count == 0, "the bad source's items were inserted, then undone with it"
    assert bad.body_hash is None, "its body is not remembered as stored, so the next poll reads it again"
    assert [source.item_count for source in sources.values()] == [3] * (count - 1)
    assert all(source.last_error is None for source in sources.values())
    [failed] = summary.failed
    assert failed.url == BAD
    merged = (aggregator.settings.output.dir / "off-the-wire.atom").read_text(encoding="utf-8")
    assert merged.count("<entry>") == 3 * (count - 1)
    assert "Bad:" not in merged


def test_the_next_poll_stores_the_failed_source_once_the_fault_is_gone(
    aggregator: Aggregator, fetcher: FakeFetcher, clock: FakeClock
) -> None:
    _subscribe(aggregator, fetcher, ["good", "bad"])
    index = aggregator.store.index_for_search
    _plant_after_items_are_written(aggregator, PlantedFailure("once"))
    aggregator.poll(every_source=True)
    aggregator.store.index_for_search = index  # type: ignore[method-assign]
    clock.advance(minutes=30)

    aggregator.poll(every_source=True)

    bad = _by_url(aggregator)[BAD]
    assert (bad.last_error, bad.error_count, bad.item_count) == (None, 0, 3)
    titles = [item.title for item in aggregator.items(source=BAD)]
    assert len(titles) == 3 and all(title.startswith("Bad: ") for title in titles)


def test_a_failure_while_matching_stories_is_isolated_too(
    aggregator: Aggregator, fetcher: FakeFetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    _subscribe(aggregator, fetcher, ["good", "bad"])
    match = StoryIndex.match

    def failing(index: StoryIndex, new: Candidate) -> int | None:
        if new.link and new.link.startswith("https://bad.example/"):
            raise ValueError("no story for this one")
        return match(index, new)

    monkeypatch.setattr(StoryIndex, "match", failing)
    # The good feed first, so that the bad one has candidates to compare with.
    fetcher.documents[BAD] = fetcher.documents["https://good.example/feed"].replace(b"good.example", b"bad.example")

    aggregator.poll(every_source=True)

    sources = _by_url(aggregator)
    assert sources[BAD].last_error == "its entries could not be stored: ValueError: no story for this one"
    assert sources["https://good.example/feed"].item_count == 3


def test_a_database_that_cannot_be_written_still_stops_the_poll(aggregator: Aggregator, fetcher: FakeFetcher) -> None:
    """Isolation is for one source's problem; a database error is everybody's, and is raised."""
    _subscribe(aggregator, fetcher, ["good", "bad"])
    _plant_after_items_are_written(aggregator, StorageError("The database cannot be written: disk I/O error."))

    with pytest.raises(StorageError, match="disk I/O error"):
        aggregator.poll(every_source=True)
