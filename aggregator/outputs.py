"""Every output file of an installation: the merged feed and each topic's, in every format, their
RFC 5005 archive pages, written atomically and only when changed; WebSub pings for those that did.

The rendering itself is pure (`publish`); this module reads the stories from the store, decides
which pages closed, writes the files and tells the hub.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aggregator.config import OutputSettings
from aggregator.exceptions import StorageError
from aggregator.store import Store, from_text
from aggregator.types import Topic

if TYPE_CHECKING:
    from aggregator.publish import FeedContext, FeedSpec
    from aggregator.update.pool import AtomPage, ParserPool

log = logging.getLogger(__name__)
POOLED_ARCHIVE_PAGES = 16  # archive pages to write at once from which the parser processes render them
ArchivePage = tuple[Path, "AtomPage"]  # an archive page's file, and what it is rendered from


class Outputs:
    """The output folder of one installation, written from its database."""

    def __init__(self, store: Store, parser_pool: Callable[[], ParserPool]) -> None:
        self.store = store
        self._parser_pool = parser_pool
        # What each output file was last rendered from: a feed whose stories did not change is not
        # rendered again (rendering is most of a publish; the daemon publishes after every change).
        self._rendered: dict[Path, int] = {}

    def publish(self, output: OutputSettings, topics: dict[str, Topic], now: datetime) -> list[Path]:
        """Rewrite every feed of the merged wire and of `topics`; returns the files whose content changed."""
        from aggregator.publish import (
            FORMATS,
            MERGED_FEED_FILE,
            MERGED_FEED_PATH,
            FeedContext,
            FeedSpec,
            Paging,
            archive_path,
            in_format,
            render,
            topic_feed_file,
            topic_feed_path,
        )

        install_id = self.store.meta("install_id")
        empty_updated = from_text(self.store.meta("created_at")) or now
        specs = [
            FeedSpec(MERGED_FEED_PATH, MERGED_FEED_FILE, output.title, "Every wire, one story per entry, newest first")
        ]
        specs += [
            FeedSpec(
                topic_feed_path(slug),
                topic_feed_file(slug),
                f"{output.title}: {topic.title}",
                f"{topic.title} stories",
                slug,
            )
            for slug, topic in topics.items()
        ]
        changed: list[Path] = []
        context = FeedContext(install_id, output.base_url, topics, empty_updated, output.hub)
        newest_pages, missing_pages = {}, []
        for spec in specs:
            newest_pages[spec], archive_changes, missing = self._archive(output, spec, context, now)
            changed += archive_changes
            missing_pages += missing
        changed += self._write_archive_pages(missing_pages)
        latest = self.store.latest_stories_of([spec.topic for spec in specs], output.limit)
        for spec, stories in zip(specs, latest, strict=True):
            newest_page = newest_pages[spec]
            newest = output.base_url + archive_path(spec.file, newest_page) if newest_page else None
            paging = Paging(prev_archive=newest)
            # hash(), not a digest of repr(): stories are frozen and hash their fields (a third of an
            # unchanged publish went to repr); the context holds a dict, so its repr is hashed.
            inputs = hash((spec, tuple(stories), paging, repr(context)))
            for fmt in FORMATS:
                path = output.dir / in_format(spec.file, fmt)
                if self._rendered.get(path) == inputs and path.exists():
                    continue
                if write_if_changed(path, render(fmt, spec, stories, context, paging)):
                    changed.append(path)
                self._rendered[path] = inputs
        current = {in_format(spec.file, fmt) for spec in specs for fmt in FORMATS}
        _remove_stale_topic_files(output.dir / "topics", current)
        self.store.outputs_published()
        if output.hub:
            announce(
                output.hub,
                [output.base_url + "feeds/" + name for name in sorted(current) if output.dir / name in changed],
            )
        return changed

    def _archive(
        self, output: OutputSettings, spec: FeedSpec, context: FeedContext, now: datetime
    ) -> tuple[int, list[Path], list[ArchivePage]]:
        """Close the feed's archive pages that filled up since the last publish (RFC 5005), and
        delete the files of pages that fell out of the newest `[output] archive_pages`. A closed
        page is never rewritten: readers may keep it forever. Returns the newest page (0: none
        yet), the files deleted, and the kept pages whose file is missing, to be written."""
        from aggregator.publish import Paging, archive_file, archive_path

        limit, keep = output.limit, output.archive_pages
        if keep == 0:
            return 0, [], []
        # The kept pages and the one before them (whose last story the oldest kept page starts after).
        pages = self.store.archive_pages(spec.path, keep + 1)
        page, last_id = pages[-1] if pages else (0, 0)
        closed = 0
        while len(ids := self.store.open_story_ids(spec.topic, last_id, limit)) == limit:
            page, last_id, closed = page + 1, ids[-1], closed + 1
            self.store.close_archive_page(spec.path, page, last_id, now)
            pages.append((page, last_id))
        changed: list[Path] = []
        missing: list[ArchivePage] = []
        for number, _ in pages[max(0, len(pages) - keep - closed) : max(0, len(pages) - keep)]:
            path = output.dir / archive_file(spec.file, number)
            if path.exists():
                path.unlink()
                changed.append(path)
        for index in range(max(0, len(pages) - keep), len(pages)):
            number, last = pages[index]
            path = output.dir / archive_file(spec.file, number)
            if path.exists():
                continue
            paging = Paging(
                prev_archive=output.base_url + archive_path(spec.file, number - 1) if number > 1 else None,
                archive_self=output.base_url + archive_path(spec.file, number),
            )
            after = pages[index - 1][1] if index else 0
            missing.append((path, (spec, self.store.stories_between(spec.topic, after, last), context, paging)))
        return page, changed, missing

    def _write_archive_pages(self, pages: list[ArchivePage]) -> list[Path]:
        """Render and write archive pages. Many at once (a first poll of a few hundred feeds closes
        a hundred pages, a few seconds of rendering) are rendered by the parser processes, on
        every core; a few, in this process."""
        from aggregator.publish import render_atom

        if len(pages) >= POOLED_ARCHIVE_PAGES:
            texts = self._parser_pool().render_atom_pages([page for _, page in pages])
        else:
            texts = [render_atom(*page) for _, page in pages]
        for (path, _), text in zip(pages, texts, strict=True):
            write_if_changed(path, text, durable=True)
        return [path for path, _ in pages]


def output_files(output: OutputSettings, slugs: list[str]) -> list[Path]:
    """The merged feed's file, then each topic's."""
    from aggregator.publish import MERGED_FEED_FILE, topic_feed_file

    return [output.dir / MERGED_FEED_FILE] + [output.dir / topic_feed_file(slug) for slug in slugs]


def announce(hub: str, feed_urls: list[str]) -> None:
    """WebSub: tell the hub which subscription feeds changed, so subscribers hear at once. A hub
    that fails is logged; the feeds are written either way."""
    from aggregator.fetch import notify_hub

    if not feed_urls:
        return
    failures = asyncio.run(notify_hub(hub, feed_urls))
    for failure in failures:
        log.warning("WebSub: %s", failure)
    log.info("WebSub: told %s about %d of %d changed feeds", hub, len(feed_urls) - len(failures), len(feed_urls))


def write_if_changed(path: Path, data: bytes, durable: bool = False) -> bool:
    """Write atomically (temporary file, rename), and only when the content differs. Feeds are not
    synced to disk: they are made from the database, and one a power cut left empty differs from
    what the next publish renders, so it is written again then (an fsync per file was a tenth of a
    publish). `durable` files are synced first: an archive page is never written twice."""
    try:
        if path.exists() and path.read_bytes() == data:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise StorageError(f"The output file {path} cannot be written: {exc.strerror or exc}.") from exc
    return True


def _remove_stale_topic_files(folder: Path, current: set[str]) -> None:
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.suffix in (".atom", ".rss", ".json") and f"topics/{path.name}" not in current:
            path.unlink(missing_ok=True)
