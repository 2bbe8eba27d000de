"""The bundled sample wire: fictional outlets' feeds, dated relative to now, served on 127.0.0.1.

The feed files in `aggregator/samplewire/feeds/` carry date placeholders (`{{rfc822:-35}}`,
`{{iso:-35}}`: minutes from now) so the demo always looks like a live wire. They are rendered
into a folder and served by aiohttp's static file handler, which answers conditional requests
with ETag and Last-Modified as a real publisher's server does.
"""

from __future__ import annotations

import asyncio
import re
import threading
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from importlib import resources
from pathlib import Path

from aiohttp import web

_PLACEHOLDER = re.compile(r"\{\{(rfc822|iso):(-?\d+)\}\}")


@dataclass(frozen=True)
class SampleFeed:
    file: str
    name: str
    topics: tuple[str, ...]


def sample_feeds() -> list[SampleFeed]:
    """The bundled feeds, as listed in the sample wire's manifest."""
    manifest = resources.files(__name__) / "sources.toml"
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    return [SampleFeed(f["file"], f["name"], tuple(f.get("topics", []))) for f in data["feeds"]]


def render_date_placeholders(text: str, now: datetime) -> str:
    """Replace every date placeholder with the date that many minutes from `now`."""

    def replace(match: re.Match[str]) -> str:
        moment = (now + timedelta(minutes=int(match.group(2)))).astimezone(UTC)
        if match.group(1) == "rfc822":
            return format_datetime(moment)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    return _PLACEHOLDER.sub(replace, text)


def render_sample_wire(folder: Path, now: datetime) -> list[SampleFeed]:
    """Write every sample feed, dated relative to `now`, into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    feeds_dir = resources.files(__name__) / "feeds"
    feeds = sample_feeds()
    for feed in feeds:
        text = (feeds_dir / feed.file).read_text(encoding="utf-8")
        (folder / feed.file).write_text(render_date_placeholders(text, now), encoding="utf-8")
    return feeds


class SampleWireServer:
    """Serves a folder of feeds on 127.0.0.1 (a free port) from a background thread."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sample-wire", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def __enter__(self) -> SampleWireServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.on_response_prepare.append(_declare_charset)
        app.router.add_static("/", self.folder, show_index=True)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]


async def _declare_charset(request: web.Request, response: web.StreamResponse) -> None:
    # Without a charset, text/xml means US-ASCII (RFC 3023); the sample feeds are UTF-8.
    if request.path.endswith(".xml"):
        response.content_type = "application/xml"
        response.charset = "utf-8"
