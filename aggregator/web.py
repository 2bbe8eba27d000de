"""The read-only HTTP service (aiohttp.web): feeds, the front page, the ticker, OPML, health, metrics.

Feed responses are the bytes of the files in the output directory, with ETag, Last-Modified,
Cache-Control, conditional 304s, HEAD and gzip. Nothing here writes: handlers only read files
and query the database through the Aggregator.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from aggregator.config import SLUG_PATTERN
from aggregator.core import Aggregator
from aggregator.exceptions import AggregatorError
from aggregator.metrics import Metrics
from aggregator.pages import FeedLink, Pages, TopicBlock
from aggregator.publish import (
    FORMATS,
    MERGED_FEED_FILE,
    MERGED_FEED_PATH,
    archive_file,
    in_format,
    topic_feed_file,
    topic_feed_path,
)

log = logging.getLogger(__name__)

FEED_MAX_AGE = 60
PAGE_MAX_AGE = 30
TICKER_DEFAULT = 20
TICKER_MAX = 100
SEARCH_RESULTS = 50
GZIP_MIN_BYTES = 512


@dataclass(frozen=True)
class HealthReport:
    """What the daemon knows of itself, for /healthz."""

    scheduler_alive: bool
    last_tick: datetime | None
    ticks: int
    last_error: str | None = None


@dataclass(frozen=True)
class _CachedFile:
    stamp: tuple[int, int, int]  # inode, size, mtime in ns: a rewrite (always a rename) changes it
    body: bytes
    tag: str
    modified: datetime


class _FileCache:
    """Feed files with their ETags, read and hashed once per change instead of once per request."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.entries: OrderedDict[Path, _CachedFile] = OrderedDict()

    def get(self, path: Path) -> _CachedFile:
        """Raises FileNotFoundError when the file is not there."""
        info = path.stat()
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        cached = self.entries.get(path)
        if cached is None or cached.stamp != stamp:
            body = path.read_bytes()
            modified = datetime.fromtimestamp(int(info.st_mtime), tz=UTC)
            cached = self.entries[path] = _CachedFile(stamp, body, _tag(body), modified)
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        self.entries.move_to_end(path)
        return cached


def _tag(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:24]


class _GzipCache:
    """Compressed bodies by ETag, so a popular feed is compressed once per change."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.entries: OrderedDict[str, bytes] = OrderedDict()

    def get(self, etag: str, body: bytes) -> bytes:
        if etag not in self.entries:
            self.entries[etag] = gzip.compress(body, compresslevel=6, mtime=0)
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        self.entries.move_to_end(etag)
        return self.entries[etag]


def make_app(reader: Aggregator, health: Callable[[], HealthReport], metrics: Metrics) -> web.Application:
    """The web application over `reader` (an Aggregator with its own database connection)."""
    service = _Service(reader, health, metrics)
    app = web.Application()
    app.router.add_get("/", service.index)
    app.router.add_get("/ticker", service.ticker)
    for fmt in FORMATS:
        app.router.add_get("/" + in_format(MERGED_FEED_PATH, fmt), service.merged_feed)
        app.router.add_get(f"/feeds/topics/{{slug}}.{fmt}", service.topic_feed)
    app.router.add_get(
        r"/feeds/archive/{feed:(off-the-wire|topics/[a-z0-9][a-z0-9-]*)}/{page:[1-9][0-9]{0,8}}.atom",
        service.archive_page,
    )
    app.router.add_get("/search", service.search)
    app.router.add_get("/sources.opml", service.opml)
    app.router.add_get("/healthz", service.healthz)
    app.router.add_get("/metrics", service.metrics)
    return app


class _Service:
    def __init__(self, reader: Aggregator, health: Callable[[], HealthReport], metrics: Metrics) -> None:
        self.reader = reader
        self.health = health
        self.metrics_registry = metrics
        self.pages = Pages()
        self.gzip = _GzipCache()
        self.files = _FileCache()

    @property
    def output(self) -> Any:
        return self.reader.settings.output

    async def merged_feed(self, request: web.Request) -> web.StreamResponse:
        return self._file(request, self.output.dir / in_format(MERGED_FEED_FILE, _format_of(request)))

    async def topic_feed(self, request: web.Request) -> web.StreamResponse:
        slug = request.match_info["slug"]
        path = self.output.dir / in_format(topic_feed_file(slug), _format_of(request))
        # A published topic has its file (publishing removes those of topics that are gone); the
        # database is asked only about a file that is missing.
        if not SLUG_PATTERN.match(slug) or (
            not path.is_file() and slug not in {info.topic.slug for info in self.reader.topics()}
        ):
            raise web.HTTPNotFound(text=f"There is no topic {slug!r}.\n")
        return self._file(request, path)

    async def archive_page(self, request: web.Request) -> web.StreamResponse:
        feed, page = request.match_info["feed"], int(request.match_info["page"])
        path = self.output.dir / archive_file(feed + ".atom", page)
        if not path.is_file():
            raise web.HTTPNotFound(text=f"There is no archive page {page} of {feed}.\n")
        return self._file(request, path)

    def _file(self, request: web.Request, path: Path) -> web.StreamResponse:
        try:
            cached = self.files.get(path)
        except FileNotFoundError:
            raise web.HTTPServiceUnavailable(text="This feed has not been published yet.\n") from None
        content_type = FORMATS[_format_of(request)]
        return self._conditional(request, cached.body, content_type, cached.modified, FEED_MAX_AGE, cached.tag)

    async def index(self, request: web.Request) -> web.StreamResponse:
        reader, output = self.reader, self.output
        stories = reader.stories(limit=output.limit)
        topics = [
            TopicBlock(
                info.topic, output.base_url + topic_feed_path(info.topic.slug), reader.stories(info.topic.slug, 6)
            )
            for info in reader.topics()
        ]
        feeds = [FeedLink(output.title, output.base_url + MERGED_FEED_PATH)] + [
            FeedLink(f"{output.title}: {block.topic.title}", block.feed_url) for block in topics
        ]
        updated = max((s.updated for s in stories), default=None)
        html = self.pages.index(
            title=output.title,
            base_url=output.base_url,
            ticker=stories[:TICKER_DEFAULT],
            topics=topics,
            sources=reader.sources(),
            feeds=feeds,
            story_count=len(stories),
            updated=updated,
        )
        return self._conditional(request, html.encode(), "text/html; charset=utf-8", updated, PAGE_MAX_AGE)

    async def ticker(self, request: web.Request) -> web.StreamResponse:
        count = _int_query(request, "n", TICKER_DEFAULT, 1, TICKER_MAX)
        topic = request.query.get("topic") or None
        label = "Off the wire"
        if topic:
            topics = {info.topic.slug: info.topic for info in self.reader.topics()}
            if topic not in topics:
                raise web.HTTPNotFound(text=f"There is no topic {topic!r}.\n")
            label = topics[topic].title
        stories = self.reader.stories(topic, count)
        html = self.pages.ticker(title=self.output.title, label=label, ticker=stories)
        updated = max((s.updated for s in stories), default=None)
        return self._conditional(request, html.encode(), "text/html; charset=utf-8", updated, FEED_MAX_AGE)

    async def search(self, request: web.Request) -> web.StreamResponse:
        query = request.query.get("q", "").strip()
        topic = request.query.get("topic") or None
        results = self.reader.search(query, topic=topic, limit=SEARCH_RESULTS) if query else []
        html = self.pages.search(title=self.output.title, base_url=self.output.base_url, query=query, results=results)
        return web.Response(text=html, content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-store"})

    async def opml(self, request: web.Request) -> web.StreamResponse:
        body = self.reader.export_opml()
        created = self.reader.created_at()
        modified = max((s.last_fetched_at for s in self.reader.sources() if s.last_fetched_at), default=created)
        return self._conditional(request, body, "text/x-opml; charset=utf-8", modified, PAGE_MAX_AGE)

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        report = self.health()
        database: dict[str, Any] = {"ok": True}
        counts = {"total": 0, "ok": 0, "failing": 0, "disabled": 0}
        try:
            self.reader.check()
            for source in self.reader.sources():
                counts["total"] += 1
                if not source.enabled:
                    counts["disabled"] += 1
                elif source.last_error:
                    counts["failing"] += 1
                elif source.last_status is not None:
                    counts["ok"] += 1
        except (AggregatorError, sqlite3.Error) as exc:
            database = {"ok": False, "error": str(exc)}
        healthy = report.scheduler_alive and database["ok"]
        status = "unavailable" if not healthy else "degraded" if report.last_error else "ok"
        body = {
            "status": status,
            "scheduler": {
                "alive": report.scheduler_alive,
                "last_tick": report.last_tick.strftime("%Y-%m-%dT%H:%M:%SZ") if report.last_tick else None,
                "ticks": report.ticks,
                "last_error": report.last_error,
            },
            "database": database,
            "sources": counts,
        }
        return web.json_response(body, status=200 if healthy else 503, headers={"Cache-Control": "no-store"})

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        try:
            self.metrics_registry.observe_sources(self.reader.sources())
        except (AggregatorError, sqlite3.Error) as exc:
            log.warning("metrics: the database did not answer: %s", exc)
        return web.Response(
            body=self.metrics_registry.text(),
            headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"},
        )

    def _conditional(
        self,
        request: web.Request,
        body: bytes,
        content_type: str,
        modified: datetime | None,
        max_age: int,
        tag: str | None = None,
    ) -> web.StreamResponse:
        """200 with validators, or 304 when the client's copy is current; gzip when accepted."""
        tag = tag or _tag(body)
        use_gzip = len(body) >= GZIP_MIN_BYTES and _accepts_gzip(request)
        etag = f'"{tag}-gz"' if use_gzip else f'"{tag}"'
        headers = {
            "ETag": etag,
            "Cache-Control": f"public, max-age={max_age}",
            "Vary": "Accept-Encoding",
            "Content-Type": content_type,
        }
        if modified:
            headers["Last-Modified"] = format_datetime(modified.astimezone(UTC), usegmt=True)
        if _not_modified(request, {f'"{tag}"', f'"{tag}-gz"'}, modified):
            del headers["Content-Type"]
            return web.Response(status=304, headers=headers)
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
            body = self.gzip.get(etag, body)
        return web.Response(body=body, headers=headers)


def _format_of(request: web.Request) -> str:
    return request.path.rsplit(".", 1)[-1]


def _not_modified(request: web.Request, etags: set[str], modified: datetime | None) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        offered = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in offered or bool(offered & etags)
    since = request.headers.get("If-Modified-Since")
    if since and modified:
        try:
            client_time = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        if client_time.tzinfo is None:
            client_time = client_time.replace(tzinfo=UTC)
        return modified.replace(microsecond=0) <= client_time
    return False


def _accepts_gzip(request: web.Request) -> bool:
    for part in request.headers.get("Accept-Encoding", "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    value = request.query.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise web.HTTPBadRequest(text=f"?{name}= must be a whole number from {low} to {high}.\n")
    return max(low, min(high, int(value)))
