"""The story index saved beside the database: a process that starts takes the window's reports from
it without preparing their headlines again, exactly as if it had prepared them; a report whose
text changed since is prepared again; a missing, stale or damaged file is prepared from the
database, never trusted."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import rss
from fakes import FakeClock, FakeFetcher, aggregator_in

from aggregator import stories
from aggregator.core import Aggregator
from aggregator.update import saved_index

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FEED = "https://wire.example/feed"
TITLES = [
    "Typhoon Senbai makes landfall in Fujian, forcing evacuations",
    "Harbour cranes idle as dockers strike over pay in Rotterdam",
    "Orchard frost ruins apple harvest across Tyrol valleys",
    "Choir from Cork wins European trophy in Riga",
    "Wildfire near Marseille forces 2,000 to leave homes",
]


@pytest.fixture
def wire(tmp_path: Path) -> Iterator[tuple[Path, FakeClock, FakeFetcher]]:
    """A database holding TITLES, written by a process that has closed (and saved its index)."""
    clock, fetcher = FakeClock(T0), FakeFetcher()
    fetcher.documents[FEED] = rss(
        [
            (f"a{n}", title, f"https://wire.example/{n}", T0 - timedelta(hours=n), f"<p>Summary {n}.</p>")
            for n, title in enumerate(TITLES)
        ]
    )
    with aggregator_in(tmp_path, clock, fetcher) as first:
        first.add_source(FEED)
        first.poll(every_source=True, publish=False)
    yield tmp_path, clock, fetcher


def prepared_while(aggregator: Aggregator, monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> list[str]:
    """The titles whose headlines building the index prepared."""
    prepared: list[str] = []
    real: Callable[..., Any] = stories.headline

    def counting(title: str, summary: str = "") -> stories.Headline:
        prepared.append(title)
        return real(title, summary)

    monkeypatch.setattr(stories, "headline", counting)
    aggregator.pipeline.storing.index_for(clock.now, aggregator.settings.dedupe)
    monkeypatch.setattr(stories, "headline", real)
    return prepared


def test_closing_saves_the_index_and_a_new_process_prepares_nothing_again(
    wire: tuple[Path, FakeClock, FakeFetcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, clock, fetcher = wire
    assert (folder / "offthewire.db-index").is_file()
    with aggregator_in(folder, clock, fetcher) as restarted:
        assert prepared_while(restarted, monkeypatch, clock) == []
        restored = restarted.pipeline.storing.index
        assert restored is not None and len(restored) == len(TITLES)
        from_file = sorted(restored.prepared())

    (folder / "offthewire.db-index").unlink()
    with aggregator_in(folder, clock, fetcher) as without_file:
        assert sorted(prepared_while(without_file, monkeypatch, clock)) == sorted(TITLES)
        prepared = without_file.pipeline.storing.index
        assert prepared is not None
        assert sorted(prepared.prepared()) == from_file
        assert prepared.story_sizes() == restored.story_sizes()


def test_a_report_whose_text_changed_since_is_prepared_again(
    wire: tuple[Path, FakeClock, FakeFetcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, clock, fetcher = wire
    with aggregator_in(folder, clock, fetcher) as other_process:
        db = other_process.store.db
        db.execute("UPDATE items SET title = 'Choir from Cork wins Riga trophy' WHERE key LIKE '%3'")
        db.conn.commit()
    with aggregator_in(folder, clock, fetcher) as restarted:
        assert prepared_while(restarted, monkeypatch, clock) == ["Choir from Cork wins Riga trophy"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-10],  # cut short
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # one bit flipped
        lambda data: data.replace(saved_index.FINGERPRINT, bytes(len(saved_index.FINGERPRINT))),  # other code
        lambda data: b"not an index at all",
    ],
    ids=["cut short", "bit flipped", "other matching code", "another file"],
)
def test_a_damaged_or_stale_file_is_not_trusted(
    wire: tuple[Path, FakeClock, FakeFetcher], monkeypatch: pytest.MonkeyPatch, damage: Callable[[bytes], bytes]
) -> None:
    folder, clock, fetcher = wire
    path = folder / "offthewire.db-index"
    assert saved_index.load(path)
    path.write_bytes(damage(path.read_bytes()))

    assert saved_index.load(path) == {}
    with aggregator_in(folder, clock, fetcher) as restarted:
        assert sorted(prepared_while(restarted, monkeypatch, clock)) == sorted(TITLES)


def test_a_file_that_cannot_be_written_costs_the_next_start_time_not_the_close(tmp_path: Path) -> None:
    blocked = tmp_path / "offthewire.db-index.partial"
    blocked.mkdir()  # the partial file cannot be opened for writing
    saved_index.save(tmp_path / "offthewire.db-index", [(1, ("a",), b"", b"")])
    assert not (tmp_path / "offthewire.db-index").exists()


def test_a_file_that_cannot_be_read_or_unpacked_is_prepared_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unreadable = tmp_path / "unreadable-index"
    unreadable.mkdir()  # reading a folder fails
    garbled = tmp_path / "garbled-index"
    payload = b"\xff not marshal"  # a sound header and checksum over a payload marshal refuses
    garbled.write_bytes(saved_index.MAGIC + saved_index.FINGERPRINT + zlib.crc32(payload).to_bytes(4, "big") + payload)

    assert saved_index.load(unreadable) == {}
    assert saved_index.load(garbled) == {}
    assert [record.getMessage().split(" (")[0] for record in caplog.records] == [
        f"the saved story index {unreadable} cannot be read",
        f"the saved story index {garbled} cannot be read",
    ]
