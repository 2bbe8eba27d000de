"""The benchmark farm: N deterministic news feeds on 127.0.0.1, served by aiohttp in a process of its own.

    python -m bench.farm --feeds 2000 [--seed 6] [--epoch 2026-11-28T18:00:00+00:00]

prints `port NNNNN` once every feed is rendered, then serves until terminated:

- `GET /feeds/NNNNN.xml`: RSS 2.0 (about 60%) or Atom 1.0, 50 to 70 entries with HTML summaries,
  some with full content; ETag and Last-Modified, 304 for a matching If-None-Match or
  If-Modified-Since, gzip when the request accepts it.
- `POST /control/generation/G`: the farm as it is after G rounds. In each round a tenth of the feeds
  (a seeded choice) publish 1 to 8 new entries at the top; the oldest fall off the bottom.
  Generation 0 is the starting state; going back to it is allowed, so every contender meets the
  same feeds.
- `GET /control/feeds`: the feed URLs, with the farm's size (feeds, entries, bytes, gzip bytes).

A feed's bytes depend only on the seed, the epoch, its index and how often it changed, so
versions are rendered once and kept. Serving runs in its own process so that it never shares the
event loop or the interpreter lock of whatever is being measured.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import json
import random
import select
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web

from bench.wire import Outlet, Story, outlet, story

ROUND_MINUTES = 5
CHANGE_SHARE = 0.10
MAX_GENERATION = 1000
STARTUP_TIMEOUT = 600.0
GZIP_LEVEL = 6


@dataclass(frozen=True)
class Version:
    """One feed as served at one moment: the bytes, their gzip form and the validators."""

    body: bytes
    gzipped: bytes
    etag: str
    modified: datetime
    entries: int
    syndicated: int
    content_type: str


def default_epoch() -> datetime:
    """An hour before the current hour: the farm's "now", so round entries are never in the future."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=1)


class Farm:
    """The feeds of one seed and epoch, every version rendered at most once."""

    def __init__(self, feeds: int, seed: int, epoch: datetime) -> None:
        self.feeds, self.seed, self.epoch = feeds, seed, epoch
        self.outlets = [outlet(seed, index) for index in range(feeds)]
        self._versions: dict[tuple[int, int], Version] = {}
        self._changed: dict[int, frozenset[int]] = {0: frozenset()}
        self.base_url = ""

    def changed(self, generation: int) -> frozenset[int]:
        """The feeds that publish new entries in round `generation` (none in generation 0)."""
        if generation not in self._changed:
            rng = random.Random(f"{self.seed}:round:{generation}")
            count = max(1, round(self.feeds * CHANGE_SHARE))
            self._changed[generation] = frozenset(rng.sample(range(self.feeds), count))
        return self._changed[generation]

    def history(self, index: int, generation: int) -> list[tuple[int, int]]:
        """(round, entries added) for every round up to `generation` in which feed `index` changed."""
        return [
            (g, random.Random(f"{self.seed}:added:{index}:{g}").randint(1, 8))
            for g in range(1, generation + 1)
            if index in self.changed(g)
        ]

    def version(self, index: int, generation: int) -> Version:
        rounds = self.history(index, generation)
        key = (index, len(rounds))
        if key not in self._versions:
            self._versions[key] = self._render(self.outlets[index], rounds)
        return self._versions[key]

    def path(self, index: int) -> str:
        return f"/feeds/{index:05d}.xml"

    def _render(self, source: Outlet, rounds: list[tuple[int, int]]) -> Version:
        dated = [(serial, self.epoch - timedelta(minutes=source.gap_minutes * (source.size - 1 - serial)))
                 for serial in range(source.size)]  # fmt: skip
        for generation, added in rounds:
            at = self.epoch + timedelta(minutes=ROUND_MINUTES * generation)
            first = len(dated)
            dated += [(first + n, at - timedelta(minutes=added - 1 - n)) for n in range(added)]
        shown = [story(self.seed, source, serial, published, self.epoch) for serial, published in dated[-source.size :]]
        shown.reverse()  # newest at the top, as publishers list them
        modified = self.epoch + timedelta(minutes=ROUND_MINUTES * rounds[-1][0]) if rounds else self.epoch
        self_url = self.base_url + self.path(source.index)
        write = render_atom if source.atom else render_rss
        body = write(source, shown, modified, self_url).encode("utf-8")
        return Version(
            body=body,
            gzipped=gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0),
            etag='"' + hashlib.blake2b(body, digest_size=10).hexdigest() + '"',
            modified=modified,
            entries=len(shown),
            syndicated=sum(s.syndicated for s in shown),
            content_type="application/atom+xml; charset=utf-8" if source.atom else "application/rss+xml; charset=utf-8",
        )


def _text(value: str) -> str:
    return html.escape(value, quote=False)


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def render_rss(source: Outlet, stories: list[Story], modified: datetime, self_url: str) -> str:
    """RSS 2.0 with the usual namespaces: dc:creator, content:encoded, atom:link rel=self."""
    home = f"https://{source.host}/{source.desk}/"
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        "<channel>",
        f"<title>{_text(source.name)}: {source.desk.title()}</title>",
        f"<link>{home}</link>",
        f"<description>The latest {source.desk} news from {_text(source.name)}</description>",
        "<language>en-gb</language>",
        f"<lastBuildDate>{format_datetime(modified)}</lastBuildDate>",
        f'<atom:link href="{_attr(self_url)}" rel="self" type="application/rss+xml"/>',
        f"<image><url>https://{source.host}/logo.png</url><title>{_text(source.name)}</title><link>{home}</link></image>",
    ]
    if source.ttl:
        head.append(f"<ttl>{source.ttl}</ttl>")
    items = []
    for s in stories:
        permalink = "true" if s.guid == s.link else "false"
        parts = [
            "<item>",
            f"<title>{_text(s.title)}</title>",
            f"<link>{_text(s.link)}</link>",
            f'<guid isPermaLink="{permalink}">{_text(s.guid)}</guid>',
            f"<pubDate>{format_datetime(s.published)}</pubDate>",
            f"<dc:creator>{_text(s.author)}</dc:creator>",
            *(f"<category>{_text(c)}</category>" for c in s.categories),
            f"<description>{_text(s.summary_html)}</description>",
        ]
        if s.content_html:
            parts.append(f"<content:encoded><![CDATA[{s.content_html}]]></content:encoded>")
        parts.append("</item>")
        items.append("\n".join(parts))
    return "\n".join([*head, *items, "</channel>", "</rss>", ""])


def render_atom(source: Outlet, stories: list[Story], modified: datetime, self_url: str) -> str:
    """Atom 1.0: ids, self and alternate links, html summaries, categories, per-entry authors."""
    home = f"https://{source.host}/{source.desk}/"
    head = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">',
        f"<id>tag:{source.host},2026:{source.desk}</id>",
        f"<title>{_text(source.name)}: {source.desk.title()}</title>",
        f"<subtitle>The latest {source.desk} news from {_text(source.name)}</subtitle>",
        f"<updated>{_iso(modified)}</updated>",
        f'<link rel="self" type="application/atom+xml" href="{_attr(self_url)}"/>',
        f'<link rel="alternate" type="text/html" href="{home}"/>',
        f"<author><name>{_text(source.name)}</name></author>",
        f"<rights>Copyright 2026 {_text(source.name)}</rights>",
        '<generator uri="https://example.org/cms" version="4.2">Newsroom CMS</generator>',
    ]
    entries = []
    for s in stories:
        parts = [
            "<entry>",
            f"<id>{_text(s.guid)}</id>",
            f'<title type="text">{_text(s.title)}</title>',
            f'<link rel="alternate" type="text/html" href="{_attr(s.link)}"/>',
            f"<published>{_iso(s.published)}</published>",
            f"<updated>{_iso(s.published)}</updated>",
            f"<author><name>{_text(s.author)}</name></author>",
            *(f'<category term="{_attr(c.lower())}" label="{_attr(c)}"/>' for c in s.categories),
            f'<summary type="html">{_text(s.summary_html)}</summary>',
        ]
        if s.content_html:
            parts.append(f'<content type="html">{_text(s.content_html)}</content>')
        parts.append("</entry>")
        entries.append("\n".join(parts))
    return "\n".join([*head, *entries, "</feed>", ""])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Serving


def not_modified(request: web.Request, version: Version) -> bool:
    """If-None-Match wins over If-Modified-Since, as RFC 9110 says."""
    tags = request.headers.get("If-None-Match")
    if tags is not None:
        return version.etag in {t.strip().removeprefix("W/") for t in tags.split(",")} or tags.strip() == "*"
    since = request.headers.get("If-Modified-Since")
    if not since:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return version.modified <= (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def make_app(farm: Farm) -> web.Application:
    state = {"generation": 0}

    async def feed(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if not (name.endswith(".xml") and name[:-4].isdigit() and int(name[:-4]) < farm.feeds):
            raise web.HTTPNotFound()
        version = farm.version(int(name[:-4]), state["generation"])
        headers = {
            "ETag": version.etag,
            "Last-Modified": format_datetime(version.modified, usegmt=True),
            "Cache-Control": "public, max-age=300",
            "Vary": "Accept-Encoding",
        }
        if not_modified(request, version):
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = version.content_type
        if "gzip" in request.headers.get("Accept-Encoding", "").lower():
            headers["Content-Encoding"] = "gzip"
            return web.Response(body=version.gzipped, headers=headers)
        return web.Response(body=version.body, headers=headers)

    async def generation(request: web.Request) -> web.StreamResponse:
        wanted = int(request.match_info["generation"])
        if not 0 <= wanted <= MAX_GENERATION:
            raise web.HTTPBadRequest(text=f"generation must be 0 to {MAX_GENERATION}")
        for index in range(farm.feeds):
            farm.version(index, wanted)  # rendered now, so no request waits for it
        state["generation"] = wanted
        return web.json_response({"generation": wanted, "changed": len(farm.changed(wanted))})

    async def feeds(request: web.Request) -> web.StreamResponse:
        return web.json_response(describe(farm, state["generation"]))

    app = web.Application()
    app.router.add_get("/feeds/{name}", feed)
    app.router.add_post("/control/generation/{generation:\\d+}", generation)
    app.router.add_get("/control/feeds", feeds)
    return app


def describe(farm: Farm, generation: int) -> dict[str, Any]:
    versions = [farm.version(index, generation) for index in range(farm.feeds)]
    return {
        "urls": [farm.base_url + farm.path(index) for index in range(farm.feeds)],
        "feeds": farm.feeds,
        "atom": sum(o.atom for o in farm.outlets),
        "entries": sum(v.entries for v in versions),
        "syndicated": sum(v.syndicated for v in versions),
        "bytes": sum(len(v.body) for v in versions),
        "gzip_bytes": sum(len(v.gzipped) for v in versions),
        "epoch": farm.epoch.isoformat(),
        "seed": farm.seed,
    }


def serve(feeds: int, seed: int, epoch: datetime) -> None:
    """Render every feed, print the port, serve until terminated."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    farm = Farm(feeds, seed, epoch)
    farm.base_url = f"http://127.0.0.1:{port}"
    for index in range(feeds):
        farm.version(index, 0)
    sock.listen(1024)  # connections made from now on wait in the backlog until the app accepts them
    print(f"port {port}", flush=True)
    web.run_app(make_app(farm), sock=sock, access_log=None, print=None, handle_signals=True, backlog=1024)


# The client side: the farm as a child process


class FarmProcess:
    """`with FarmProcess(feeds, seed) as farm:` starts the farm in its own process and stops it after."""

    def __init__(self, feeds: int, seed: int = 6, epoch: datetime | None = None) -> None:
        self.feeds, self.seed, self.epoch = feeds, seed, epoch or default_epoch()
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.info: dict[str, Any] = {}

    def __enter__(self) -> FarmProcess:
        command = [sys.executable, "-m", "bench.farm", "--feeds", str(self.feeds), "--seed", str(self.seed)]
        command += ["--epoch", self.epoch.isoformat()]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            self._connect(self.process)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _connect(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("port "):
            raise RuntimeError(f"the farm did not start within {STARTUP_TIMEOUT:g} s")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}"
        self.info = self._call("GET", "/control/feeds")

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    @property
    def urls(self) -> list[str]:
        return list(self.info["urls"])

    def set_generation(self, generation: int) -> int:
        """Serve the farm as it is after `generation` rounds; returns how many feeds that round changed."""
        return int(self._call("POST", f"/control/generation/{generation}")["changed"])

    def _call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.base_url + path, method=method)
        with urllib.request.urlopen(request, timeout=STARTUP_TIMEOUT) as response:
            return dict(json.load(response))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.farm", description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--epoch", type=datetime.fromisoformat, default=None)
    args = parser.parse_args()
    serve(args.feeds, args.seed, args.epoch or default_epoch())


if __name__ == "__main__":
    main()
