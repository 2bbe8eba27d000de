"""A shared link joins reports into one story, unless the page was reused for other news: a report
naming other places a day or more later is a new story; an update within the day is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.config import OutputSettings, Settings, StorageSettings
from aggregator.core import make_aggregator
from aggregator.types import Entry

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
PAGE = "https://weather.example/warnings/current"
QUAKE = "https://wire.example/world/quake-magnitude-6-1-strikes-off-hokkaido"


def story_ids(folder: Path, reports: list[tuple[str, str, str, datetime]]) -> list[int]:
    """Store each (outlet, title, link, published) as its own outlet would; their story ids."""
    settings = Settings(storage=StorageSettings(folder / "t.db"), output=OutputSettings(dir=folder / "public"))
    ids = []
    with make_aggregator(settings, clock=lambda: T0 + timedelta(days=5)) as aggregator:
        for n, (outlet, title, link, published) in enumerate(reports):
            source = aggregator.add_source(f"https://{outlet}.example/feed")
            [item] = aggregator.pipeline.prepare_items(source, [Entry(f"g{n}", title, link, published=published)])
            aggregator.pipeline.storing.store_items(source, [item], published, settings.dedupe)
            [stored] = aggregator.store.items(source_id=source.id, limit=1)
            ids.append(stored.story_id)
    return ids


def test_a_page_reused_days_later_for_other_places_is_a_new_story(tmp_path: Path) -> None:
    first, later = story_ids(
        tmp_path,
        [
            ("harbour", "Weather warning for Oslo as freezing rain expected", PAGE, T0),
            ("meridian", "Weather warning for Bergen as storm nears", PAGE, T0 + timedelta(days=2)),
        ],
    )
    assert first != later


def test_an_update_within_the_day_at_the_same_link_is_the_same_story(tmp_path: Path) -> None:
    first, update, copy = story_ids(
        tmp_path,
        [
            ("meridian", "Earthquake of magnitude 6.1 strikes off Hokkaido, Japan -GFZ", QUAKE, T0),
            ("harbour", "UPDATE 2-Strong quake off northern Japan injures 14, halts bullet trains", QUAKE,
             T0 + timedelta(hours=5)),
            # The same page and the same names two days on: still the story (a follow-up on the page).
            ("pacific", "Hokkaido quake: bullet trains run again", QUAKE + "?utm_source=x", T0 + timedelta(days=2)),
        ],
    )  # fmt: skip
    assert first == update == copy
