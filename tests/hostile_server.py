"""A hostile HTTP server on 127.0.0.1 for the hostile-feed tests: one path per way a feed can attack.

Every path in `CASES` is one hostile source (subscribe to it); the other paths are the attack's
helpers (redirect hops, the external DTD, the secret an XXE would leak) and must never be needed.
The server logs every request, so a test can assert that a helper was never fetched.

Bounded by construction: a handler never runs longer than HANDLER_SECONDS (stalls and trickles
check a deadline between bytes, every socket operation has SOCKET_TIMEOUT_SECONDS), every stall
ends at once when the server closes, and `close()` joins the (daemon) handler threads.

The compression bombs are built once per process and never decompressed here: the 1 GB ones are
made of one compressed megabyte repeated after full flushes (the deflate stream of a megabyte of
zeros is the same bytes every time once the compressor's history is reset), so building them never
holds more than the ~1 MB compressed result.
"""

from __future__ import annotations

import base64
import functools
import gzip
import random
import select
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

HANDLER_SECONDS = 10.0  # the longest any handler runs (plus at most one socket timeout)
SOCKET_TIMEOUT_SECONDS = 4.0
JOIN_SECONDS = 15.0
CHUNK = 64 * 1024

# What an XXE or an external DTD would leak if the parser ever fetched it.
SECRET = "HOSTILE-SECRET-4f1c9e2a-do-not-leak"
# The size every uncompressed oversized body has (a valid feed if read whole: the limit must stop it).
OVERSIZED_BYTES = 3_000_000
HUGE_FEED_ENTRIES = 10_000
HUGE_TITLE_CHARS = 100_000
REDIRECT_CHAIN = 10


@dataclass(frozen=True)
class Hit:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    at: float


@dataclass(frozen=True)
class Case:
    """One hostile source: its path and what it does."""

    path: str
    category: str
    what: str


# Filled by @_route: path -> handler, and the hostile sources in order.
_ROUTES: dict[str, Callable[[_Handler], None]] = {}
CASES: list[Case] = []


def _route(path: str, category: str | None = None, what: str = "") -> Callable[[Any], Any]:
    def register(function: Callable[[_Handler], None]) -> Callable[[_Handler], None]:
        _ROUTES[path] = function
        if category:
            CASES.append(Case(path, category, what))
        return function

    return register


# Documents


def rfc822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)


def rss_document(
    items: str,
    title: str = "Hostile wire",
    prolog: str = "",
    declaration: str = '<?xml version="1.0" encoding="utf-8"?>',
) -> str:
    """An RSS 2.0 document around `items` (raw XML, so a case can put anything in it)."""
    return (
        f"{declaration}\n{prolog}"
        '<rss version="2.0">\n<channel>\n'
        f"  <title>{title}</title>\n  <link>https://hostile.example/</link>\n"
        "  <description>A hostile feed</description>\n"
        f"{items}</channel>\n</rss>\n"
    )


def rss_item(title: str, guid: str, summary: str = "", link: str | None = None, minutes: float = 5) -> str:
    """One <item> with text (escaped here) and a date `minutes` ago."""
    link = link if link is not None else f"https://hostile.example/{guid}"
    return (
        f"  <item>\n    <title>{escape(title)}</title>\n    <link>{escape(link)}</link>\n"
        f'    <guid isPermaLink="false">{escape(guid)}</guid>\n'
        f"    <pubDate>{rfc822(minutes_ago(minutes))}</pubDate>\n"
        f"    <description>{escape(summary)}</description>\n  </item>\n"
    )


def atom_document(entries: str, title: str = '<title type="text">Hostile Atom wire</title>') -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"  {title}\n  <id>urn:uuid:0e9a5c59-3a1f-4c6e-9a36-7d1b1f0c7a11</id>\n"
        '  <link rel="alternate" href="https://hostile.example/atom"/>\n'
        f"  <updated>{minutes_ago(1).strftime('%Y-%m-%dT%H:%M:%SZ')}</updated>\n"
        "  <author><name>Hostile Desk</name></author>\n"
        f"{entries}</feed>\n"
    )


def atom_entry(entry_id: str, title: str, body: str, minutes: float = 5, link: str | None = None) -> str:
    """One <entry>; `title` and `body` are raw XML elements (the case chooses their types)."""
    link = link if link is not None else f"https://hostile.example/{entry_id}"
    stamp = minutes_ago(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"  <entry>\n    <id>urn:hostile:{entry_id}</id>\n    {title}\n"
        f'    <link rel="alternate" href="{escape(link, {chr(34): "&quot;"})}"/>\n'
        f"    <updated>{stamp}</updated>\n    <published>{stamp}</published>\n    {body}\n  </entry>\n"
    )


def pseudo_words(rng: random.Random, count: int) -> str:
    """Made-up words: headlines no other headline shares, so no two entries become one story."""
    consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
    return " ".join(
        "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(2, 4))) for _ in range(count)
    ).capitalize()


# The HTML every active-content case carries: each line is something a sanitiser must remove.
ACTIVE_HTML = """<p>Lead paragraph that must survive the sanitiser.</p>
<script>alert('script-tag')</script>
<SCRIPT SRC="https://evil.example/x.js"></SCRIPT>
<style>body { background: url("javascript:alert('style')") }</style>
<iframe src="javascript:alert('iframe')"></iframe>
<iframe srcdoc="&lt;script&gt;alert('srcdoc')&lt;/script&gt;"></iframe>
<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>
<embed src="javascript:alert('embed')">
<img src="https://good.example/photo.png" onerror="alert('onerror')" onclick="alert('onclick')" alt="photo">
<img src="javascript:alert('img-src')">
<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">
<a href="javascript:alert('href')" onclick="steal()">javascript link</a>
<a href="JaVaScRiPt:alert('case')">mixed-case link</a>
<a href=" javascript:alert('space')">leading-space link</a>
<a href="jav&#x09;ascript:alert('tab')">tab link</a>
<a href="data:text/html,&lt;script&gt;alert('data')&lt;/script&gt;">data link</a>
<a href="vbscript:msgbox('vb')">vbscript link</a>
<a href="https://good.example/article" onmouseover="alert('hover')">good link</a>
<svg onload="alert('svg')"><circle r="1"/></svg>
<form action="javascript:alert('form')"><input onfocus="alert('focus')" autofocus></form>
<div style="background-image: url(javascript:alert('css'))">styled block</div>
<meta http-equiv="refresh" content="0;url=javascript:alert('meta')">
<base href="javascript:alert('base')//">
<p>Closing paragraph.</p>"""

# The same attacks written as XHTML (well-formed, in the XHTML namespace) for Atom type="xhtml".
ACTIVE_XHTML = """<div xmlns="http://www.w3.org/1999/xhtml"><p>Lead paragraph that must survive the sanitiser.</p>
<script>alert('xhtml-script')</script>
<style>p { color: red }</style>
<iframe src="javascript:alert('xhtml-iframe')"></iframe>
<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>
<img src="https://good.example/photo.png" onerror="alert('xhtml-onerror')" onclick="alert(2)" alt="photo"/>
<img src="javascript:alert('xhtml-img')"/>
<img src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="/>
<a href="javascript:alert('xhtml-href')" onclick="steal()">javascript link</a>
<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">data link</a>
<a href="https://good.example/article">good link</a>
</div>"""

# Titles that carry markup: each must come out as plain text without any tag.
ACTIVE_TITLE_HTML = (
    "Marathon &lt;img src=x onerror=alert('title')&gt;relay &lt;b&gt;crosses&lt;/b&gt; the "
    "&lt;script&gt;alert('title-script')&lt;/script&gt;bridge &lt;a href=\"javascript:alert(1)\"&gt;now&lt;/a&gt;"
)
# Escaped twice: feedparser yields "&lt;script&gt;", and decoding it once more must not make a tag.
DOUBLE_ESCAPED_TITLE = "Lantern quarry &amp;lt;script&amp;gt;alert('double')&amp;lt;/script&amp;gt; velvet orchard"
DATA_URL_FEED_TITLE = "Feed fetched through a data URL"
FTP_FEED_TITLE = "Feed fetched through ftp"


def _active_rss() -> bytes:
    items = "".join(
        [
            # The title is HTML (RSS titles are, in practice); CDATA keeps the attack verbatim.
            "  <item>\n    <title>" + ACTIVE_TITLE_HTML + "</title>\n    <link>javascript:alert('entry-link')</link>\n"
            '    <guid isPermaLink="false">active-rss-1</guid>\n'
            f"    <pubDate>{rfc822(minutes_ago(2))}</pubDate>\n"
            "    <author>evil@example.com (&lt;script&gt;alert('author')&lt;/script&gt;Eve)</author>\n"
            "    <category>&lt;script&gt;alert('category')&lt;/script&gt;marathon</category>\n"
            f"    <description><![CDATA[{ACTIVE_HTML}]]></description>\n  </item>\n",
            "  <item>\n    <title>" + DOUBLE_ESCAPED_TITLE + "</title>\n"
            "    <link>data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==</link>\n"
            '    <guid isPermaLink="false">active-rss-2</guid>\n'
            f"    <pubDate>{rfc822(minutes_ago(3))}</pubDate>\n"
            f"    <description>{escape(ACTIVE_HTML)}</description>\n  </item>\n",
        ]
    )
    return rss_document(items, title="Active &lt;script&gt;alert('feed-title')&lt;/script&gt;RSS wire").encode()


def _active_atom_html() -> bytes:
    entries = atom_entry(
        "active-html-1",
        f'<title type="html">{ACTIVE_TITLE_HTML.replace("Marathon", "Olympic")}</title>',
        f'<summary type="html">{escape(ACTIVE_HTML)}</summary>\n'
        f'    <content type="html">{escape(ACTIVE_HTML)}</content>',
        minutes=2,
        link="javascript:alert('atom-link')",
    ) + atom_entry(
        "active-html-2",
        # type="text": the title is text by definition, markup and all.
        "<title type=\"text\">Crude &lt;script&gt;alert('text-title')&lt;/script&gt; oil tanker</title>",
        f'<content type="html">{escape(ACTIVE_HTML)}</content>',
        minutes=3,
    )
    return atom_document(entries, title='<title type="html">Atom &lt;iframe src=x&gt; html wire</title>').encode()


def _active_atom_xhtml() -> bytes:
    entries = atom_entry(
        "active-xhtml-1",
        '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Blizzard <script>alert(\'x-title\')'
        "</script><b onclick=\"alert('b')\">closes</b> the pass</div></title>",
        f'<content type="xhtml">{ACTIVE_XHTML}</content>',
        minutes=2,
    )
    return atom_document(entries).encode()


@functools.cache
def _deflate_zeros(megabytes: int) -> tuple[bytes, int, int]:
    """The raw deflate stream of `megabytes` MiB of zeros, with the zeros' CRC-32 and Adler-32."""
    zeros = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    # After a full flush the compressor forgets its history, so every megabyte compresses to the same bytes.
    segment = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert again == segment
    raw = segment * megabytes + compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(zeros, crc)
    size = megabytes << 20
    # Adler-32 of n zeros: A stays 1, B adds A (1) once per byte.
    adler = ((size % 65521) << 16) | 1
    return raw, crc, adler


def gzip_bomb(megabytes: int) -> bytes:
    """A gzip member that decompresses to `megabytes` MiB of zeros (about 1 KB per MiB)."""
    raw, crc, _ = _deflate_zeros(megabytes)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + raw + struct.pack("<II", crc, (megabytes << 20) & 0xFFFFFFFF)


def zlib_bomb(megabytes: int) -> bytes:
    """HTTP "deflate" (a zlib stream) that decompresses to `megabytes` MiB of zeros."""
    raw, _, adler = _deflate_zeros(megabytes)
    return b"\x78\xda" + raw + struct.pack(">I", adler)


def oversized_feed(total: int) -> Iterator[bytes]:
    """A valid RSS document of exactly `total` bytes, in chunks, never held whole."""
    head = rss_document("", title="Oversized wire").encode().split(b"</channel>")[0]
    foot = b"</channel>\n</rss>\n"
    first = b"  <item><title>Oversized entry 0000000</title><guid>oversized-0000000</guid></item>\n"
    count = (total - len(head) - len(foot)) // len(first)
    padding = total - len(head) - len(foot) - count * len(first)
    yield head
    batch: list[bytes] = []
    for n in range(count):
        batch.append(f"  <item><title>Oversized entry {n:07d}</title><guid>oversized-{n:07d}</guid></item>\n".encode())
        if len(batch) == 512:
            yield b"".join(batch)
            batch = []
    yield b"".join(batch) + b" " * padding + foot


def passwd_marker() -> str:
    """What /etc/passwd starts with here (its first line), to look for in every output."""
    try:
        with open("/etc/passwd", encoding="utf-8", errors="replace") as handle:
            return handle.readline().strip() or "root:x:0:0"
    except OSError:
        return "root:x:0:0"


# The handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_SECONDS
    server: _Server
    deadline: float = 0.0
    started: float = 0.0
    route: str = ""

    def do_GET(self) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + HANDLER_SECONDS
        path = self.route = self.path.split("?", 1)[0]
        self.server.record(Hit(self.command, path, {k.lower(): v for k, v in self.headers.items()}, time.time()))
        self.close_connection = True
        handler = _ROUTES.get(path)
        try:
            if handler is None:
                self.answer(404, b"not found\n", "text/plain")
            else:
                handler(self)
        except OSError:
            pass  # the client hung up or stopped reading: that is what its deadline is for

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # Building blocks for the cases

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def stall(self, seconds: float) -> bool:
        """Wait up to `seconds` (never past the deadline) watching the connection; False when the
        handler must stop: the deadline passed, the server is closing or the client hung up."""
        end = min(time.monotonic() + seconds, self.deadline)
        while not self.server.stopping.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return self.remaining() > 0
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            if readable and self.hung_up():
                return False
        return False

    def hung_up(self) -> bool:
        """True (and the time it took is recorded) when the client has closed the connection."""
        try:
            data = self.connection.recv(CHUNK)
        except OSError:
            data = b""
        if data:
            return False  # more bytes from the client (ignored); it is still there
        self.server.record_hangup(self.route, time.monotonic() - self.started)
        return True

    def head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()

    def answer(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.head(status, {"Content-Type": content_type, "Content-Length": str(len(body)), **headers})
        self.stream([body[i : i + CHUNK] for i in range(0, len(body), CHUNK)])

    def feed(self, body: bytes | str, content_type: str = "application/rss+xml; charset=utf-8") -> None:
        self.answer(200, body.encode() if isinstance(body, str) else body, content_type)

    def stream(self, chunks: Any) -> None:
        """Write chunks until they run out, the deadline passes or the server stops."""
        for chunk in chunks:
            if self.server.stopping.is_set() or not self.remaining():
                return
            self.wfile.write(chunk)

    def redirect(self, location: str, status: int = 302) -> None:
        self.answer(status, b"", "text/plain", Location=location)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck handler can never keep the test process alive...
    block_on_close = False  # ...and close() joins them itself, with a bound

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.port = int(self.server_address[1])
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.hits: list[Hit] = []
        self.hangups: dict[str, list[float]] = {}
        self.threads: list[threading.Thread] = []

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address), daemon=True)
        with self.lock:
            self.threads = [t for t in self.threads if t.is_alive()]
            self.threads.append(thread)
        thread.start()

    def record(self, hit: Hit) -> None:
        with self.lock:
            self.hits.append(hit)

    def record_hangup(self, path: str, seconds: float) -> None:
        with self.lock:
            self.hangups.setdefault(path, []).append(seconds)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-answer is the point of this server


class HostileServer:
    """The hostile server on a free loopback port; a context manager."""

    def __init__(self) -> None:
        gzip_bomb(1024)  # built before the first request, so no client waits for it
        self._httpd = _Server()
        self.port = self._httpd.port
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="hostile-server", daemon=True
        )
        self.stragglers: list[str] = []

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving, cut every stall short, join every handler thread (bounded)."""
        self._httpd.stopping.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=JOIN_SECONDS)
        self._httpd.server_close()
        deadline = time.monotonic() + JOIN_SECONDS
        with self._httpd.lock:
            threads = list(self._httpd.threads)
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.stragglers = [t.name for t in threads if t.is_alive()]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def hits(self) -> list[Hit]:
        with self._httpd.lock:
            return list(self._httpd.hits)

    def requested(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    def hangups(self, path: str) -> list[float]:
        """For a stalling path: after how many seconds each client hung up (seen while stalling)."""
        with self._httpd.lock:
            return list(self._httpd.hangups.get(path, []))

    @property
    def handler_threads_alive(self) -> int:
        with self._httpd.lock:
            return sum(t.is_alive() for t in self._httpd.threads)


# Timeouts


@_route("/timeout/no-answer", "timeouts", "accepts the connection and never answers")
def _no_answer(h: _Handler) -> None:
    h.stall(HANDLER_SECONDS)


@_route("/timeout/trickle-body", "timeouts", "headers, then one byte of the body per second")
def _trickle_body(h: _Handler) -> None:
    h.head(200, {"Content-Type": "application/rss+xml; charset=utf-8"})  # no length: read until close
    body = rss_document(rss_item("Trickled headline", "trickle-1")).encode()
    for n in range(len(body)):
        h.wfile.write(body[n : n + 1])
        if not h.stall(1.0):
            return


@_route("/timeout/trickle-headers", "timeouts", "the status line and headers, one byte per second")
def _trickle_headers(h: _Handler) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nX-Padding: " + b"x" * 200 + b"\r\n\r\n"
    for n in range(len(head)):
        h.wfile.write(head[n : n + 1])
        if not h.stall(1.0):
            return


@_route("/timeout/stalled-body", "timeouts", "headers and 100 bytes of a 5,000-byte body, then silence")
def _stalled_body(h: _Handler) -> None:
    h.head(200, {"Content-Type": "application/rss+xml; charset=utf-8", "Content-Length": "5000"})
    h.wfile.write(rss_document("").encode()[:100])
    h.stall(HANDLER_SECONDS)


# Size limits


def _bomb(h: _Handler, body: bytes, encoding: str) -> None:
    h.answer(200, body, "application/rss+xml; charset=utf-8", **{"Content-Encoding": encoding})


@_route("/size/gzip-10mb", "size", "gzip bomb: ~10 KB that inflates to 10 MB of zeros")
def _gzip_small(h: _Handler) -> None:
    _bomb(h, gzip.compress(bytes(10 << 20), compresslevel=9, mtime=0), "gzip")


@_route("/size/gzip-1gb", "size", "gzip bomb: ~1 MB that inflates to 1 GB of zeros")
def _gzip_large(h: _Handler) -> None:
    _bomb(h, gzip_bomb(1024), "gzip")


@_route("/size/deflate-1gb", "size", "deflate (zlib) bomb: ~1 MB that inflates to 1 GB of zeros")
def _deflate_large(h: _Handler) -> None:
    _bomb(h, zlib_bomb(1024), "deflate")


@_route("/size/big-with-length", "size", "a 3 MB feed, uncompressed, with Content-Length")
def _big_with_length(h: _Handler) -> None:
    h.head(200, {"Content-Type": "application/rss+xml; charset=utf-8", "Content-Length": str(OVERSIZED_BYTES)})
    h.stream(oversized_feed(OVERSIZED_BYTES))


@_route("/size/big-no-length", "size", "a 3 MB feed, uncompressed, no Content-Length (read until close)")
def _big_no_length(h: _Handler) -> None:
    h.head(200, {"Content-Type": "application/rss+xml; charset=utf-8"})
    h.stream(oversized_feed(OVERSIZED_BYTES))


@_route("/size/big-chunked", "size", "a 3 MB feed, uncompressed, chunked transfer encoding")
def _big_chunked(h: _Handler) -> None:
    h.head(200, {"Content-Type": "application/rss+xml; charset=utf-8", "Transfer-Encoding": "chunked"})
    h.stream(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in oversized_feed(OVERSIZED_BYTES) if chunk)
    h.stream([b"0\r\n\r\n"])


# Redirects


@_route("/redirect/loop-a", "redirects", "A -> B -> A -> ...")
def _loop_a(h: _Handler) -> None:
    h.redirect(h.base + "/redirect/loop-b")


@_route("/redirect/loop-b")
def _loop_b(h: _Handler) -> None:
    h.redirect(h.base + "/redirect/loop-a")


def _chain_hop(n: int) -> Callable[[_Handler], None]:
    def hop(h: _Handler) -> None:
        if n < REDIRECT_CHAIN:
            h.redirect(f"{h.base}/redirect/chain-{n + 1}")
        else:
            h.feed(rss_document(rss_item("End of a ten-redirect chain", "chain-end")))

    return hop


for _n in range(REDIRECT_CHAIN + 1):
    _route(
        f"/redirect/chain-{_n}",
        "redirects" if _n == 0 else None,
        f"a chain of {REDIRECT_CHAIN} redirects to a valid feed",
    )(_chain_hop(_n))


@_route("/redirect/to-file", "redirects", "301 to file:///etc/passwd")
def _to_file(h: _Handler) -> None:
    h.redirect("file:///etc/passwd", status=301)


@_route("/redirect/to-ftp", "redirects", "302 to ftp://")
def _to_ftp(h: _Handler) -> None:
    h.redirect(f"ftp://127.0.0.1:{h.server.port}/feed.xml")


@_route("/redirect/to-data", "redirects", "301 to a data: URL holding a valid feed")
def _to_data(h: _Handler) -> None:
    feed = rss_document(rss_item(DATA_URL_FEED_TITLE, "data-url-1")).encode()
    h.redirect("data:application/rss+xml;base64," + base64.b64encode(feed).decode(), status=301)


@_route("/redirect/to-javascript", "redirects", "302 to javascript:")
def _to_javascript(h: _Handler) -> None:
    h.redirect("javascript:alert(document.cookie)")


# XML attacks


@_route("/xml/billion-laughs", "xml", "nested entity expansion (10^9 'lol')")
def _billion_laughs(h: _Handler) -> None:
    entities = ['  <!ENTITY lol "lol">']
    entities += [f'  <!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">' for n in range(1, 10)]
    prolog = "<!DOCTYPE rss [\n" + "\n".join(entities) + "\n]>\n"
    item = (
        "  <item>\n    <title>Laughing &lol9;</title>\n    <guid>laughs-1</guid>\n"
        f"    <pubDate>{rfc822(minutes_ago(4))}</pubDate>\n"
        "    <description>&lol9;</description>\n  </item>\n"
    )
    h.feed(rss_document(item, prolog=prolog))


@_route("/xml/quadratic", "xml", "quadratic blow-up: a 100 KB entity referenced 10,000 times (1 GB)")
def _quadratic(h: _Handler) -> None:
    prolog = f'<!DOCTYPE rss [\n  <!ENTITY a "{"A" * 100_000}">\n]>\n'
    item = (
        "  <item>\n    <title>Quadratic &a;&a;&a;&a;</title>\n    <guid>quadratic-1</guid>\n"
        f"    <pubDate>{rfc822(minutes_ago(4))}</pubDate>\n"
        f"    <description>{'&a;' * 10_000}</description>\n  </item>\n"
    )
    h.feed(rss_document(item, prolog=prolog))


def _xxe(h: _Handler, system_id: str, guid: str) -> None:
    prolog = f'<!DOCTYPE rss [\n  <!ENTITY xxe SYSTEM "{system_id}">\n]>\n'
    item = (
        f"  <item>\n    <title>Entity &xxe; here</title>\n    <guid>{guid}</guid>\n"
        f"    <pubDate>{rfc822(minutes_ago(4))}</pubDate>\n"
        "    <description>Leaked: &xxe;</description>\n  </item>\n"
    )
    h.feed(rss_document(item, title="XXE &xxe; wire", prolog=prolog))


@_route("/xml/xxe-file", "xml", "external entity: file:///etc/passwd")
def _xxe_file(h: _Handler) -> None:
    _xxe(h, "file:///etc/passwd", "xxe-file-1")


@_route("/xml/xxe-http", "xml", "external entity: http://127.0.0.1:<port>/secret")
def _xxe_http(h: _Handler) -> None:
    _xxe(h, f"{h.base}/secret", "xxe-http-1")


@_route("/xml/external-dtd", "xml", "external DTD: <!DOCTYPE rss SYSTEM http://.../evil.dtd>")
def _external_dtd(h: _Handler) -> None:
    prolog = f'<!DOCTYPE rss SYSTEM "{h.base}/evil.dtd">\n'
    item = (
        "  <item>\n    <title>External DTD &remote; here</title>\n    <guid>dtd-1</guid>\n"
        f"    <pubDate>{rfc822(minutes_ago(4))}</pubDate>\n"
        "    <description>Leaked: &remote;</description>\n  </item>\n"
    )
    h.feed(rss_document(item, prolog=prolog))


@_route("/xml/parameter-entity", "xml", "external parameter entity pulling http://.../evil.dtd")
def _parameter_entity(h: _Handler) -> None:
    prolog = f'<!DOCTYPE rss [\n  <!ENTITY % remote SYSTEM "{h.base}/evil.dtd">\n  %remote;\n]>\n'
    item = (
        "  <item>\n    <title>Parameter entity &remote; here</title>\n    <guid>pe-1</guid>\n"
        f"    <pubDate>{rfc822(minutes_ago(4))}</pubDate>\n"
        "    <description>Leaked: &remote; &passwd;</description>\n  </item>\n"
    )
    h.feed(rss_document(item, prolog=prolog))


@_route("/xml/xinclude", "xml", "XInclude of file:///etc/passwd")
def _xinclude(h: _Handler) -> None:
    item = (
        '  <item xmlns:xi="http://www.w3.org/2001/XInclude">\n    <title>XInclude here</title>\n'
        f"    <guid>xinclude-1</guid>\n    <pubDate>{rfc822(minutes_ago(4))}</pubDate>\n"
        '    <description><xi:include href="file:///etc/passwd" parse="text"/></description>\n  </item>\n'
    )
    h.feed(rss_document(item))


@_route("/secret")
def _secret(h: _Handler) -> None:
    h.answer(200, SECRET.encode(), "text/plain")


@_route("/evil.dtd")
def _evil_dtd(h: _Handler) -> None:
    dtd = f'<!ENTITY remote "{SECRET}">\n<!ENTITY passwd SYSTEM "file:///etc/passwd">\n'
    h.answer(200, dtd.encode(), "application/xml-dtd")


# Encodings

ENCODING_TITLES = {
    "/enc/cp1252-declared-utf8": "Caf\u00e9 \u2013 \u201cquoted\u201d na\u00efve r\u00e9sum\u00e9",
    "/enc/gb2312-declared-utf8": "\u4e2d\u6587\u65b0\u95fb\u6807\u9898",
    "/enc/undeclared-utf8": "Z\u00fcrich \u00fcber Gr\u00f6\u00dfe",
    "/enc/utf8-bom": "Byte order mark \u2713 \u00e9t\u00e9",
    "/enc/utf16-bom": "Sixteen bits \u00e9t\u00e9 \u4e2d\u6587",
}


def _encoded(title: str, guid: str, declaration: str) -> str:
    return rss_document(rss_item(title, guid, summary=title), title=escape(title), declaration=declaration)


@_route("/enc/cp1252-declared-utf8", "encodings", "windows-1252 bytes declared as UTF-8 (header and prolog)")
def _cp1252(h: _Handler) -> None:
    document = _encoded(ENCODING_TITLES[h.route], "cp1252-1", '<?xml version="1.0" encoding="utf-8"?>')
    h.feed(document.encode("windows-1252"))


@_route("/enc/gb2312-declared-utf8", "encodings", "GB2312 bytes declared as UTF-8 (header and prolog)")
def _gb2312(h: _Handler) -> None:
    document = _encoded(ENCODING_TITLES[h.route], "gb2312-1", '<?xml version="1.0" encoding="utf-8"?>')
    h.feed(document.encode("gb2312"))


@_route("/enc/undeclared-utf8", "encodings", "UTF-8 with no declaration anywhere")
def _undeclared(h: _Handler) -> None:
    h.feed(_encoded(ENCODING_TITLES[h.route], "undeclared-1", "").encode(), content_type="application/xml")


@_route("/enc/utf8-bom", "encodings", "UTF-8 with a byte order mark")
def _utf8_bom(h: _Handler) -> None:
    document = _encoded(ENCODING_TITLES[h.route], "bom8-1", '<?xml version="1.0" encoding="utf-8"?>')
    h.feed(b"\xef\xbb\xbf" + document.encode())


@_route("/enc/utf16-bom", "encodings", "UTF-16 (little endian) with a byte order mark")
def _utf16_bom(h: _Handler) -> None:
    document = _encoded(ENCODING_TITLES[h.route], "bom16-1", '<?xml version="1.0" encoding="utf-16"?>')
    h.feed(document.encode("utf-16"), content_type="application/rss+xml")


# Content


@_route("/content/html-page", "content", "200 text/html: a web page, not a feed")
def _html_page(h: _Handler) -> None:
    page = (
        "<!DOCTYPE html>\n<html><head><title>Welcome</title><script>alert('page')</script></head>"
        "<body><h1>Our news</h1><p>Subscribe to our newsletter!</p></body></html>\n"
    )
    h.answer(200, page.encode(), "text/html; charset=utf-8")


@_route("/content/empty", "content", "200 with an empty body")
def _empty(h: _Handler) -> None:
    h.feed(b"")


@_route("/content/truncated", "content", "an RSS document cut off in the middle of an item")
def _truncated(h: _Handler) -> None:
    document = rss_document(rss_item("Complete first headline", "trunc-1") + rss_item("Cut-off second", "trunc-2"))
    h.feed(document[: document.index("Cut-off") + 4])


def huge_feed_titles() -> list[str]:
    """The headlines of the huge feed, newest first."""
    rng = random.Random(10_000)
    return [pseudo_words(rng, 6) for _ in range(HUGE_FEED_ENTRIES)]


@_route("/content/10000-entries", "content", f"{HUGE_FEED_ENTRIES:,} entries, generated per request")
def _huge_feed(h: _Handler) -> None:
    start = minutes_ago(24 * 60)
    items = [
        f"<item><title>{title}</title><guid>huge-{n}</guid>"
        f"<pubDate>{rfc822(start - timedelta(minutes=n))}</pubDate></item>\n"
        for n, title in enumerate(huge_feed_titles())
    ]
    h.feed(rss_document("".join(items), title="Ten thousand entries"))


@_route("/content/huge-title", "content", f"feed and entry titles of {HUGE_TITLE_CHARS:,} characters")
def _huge_title(h: _Handler) -> None:
    words = pseudo_words(random.Random(100), HUGE_TITLE_CHARS // 5)[:HUGE_TITLE_CHARS]
    h.feed(rss_document(rss_item(words, "huge-title-1", minutes=2), title=words))


CONTROL_TITLE = "Bidi\u202e dlrow \u202c control\x01\x07 ESC\x1b[31m red\x1b[0m C1\x9b2J end\u2066 isolate\u2069"


@_route("/content/control-chars", "content", "raw C0/C1 controls, ANSI escapes and bidi overrides in titles")
def _control_chars(h: _Handler) -> None:
    item = (
        f"  <item>\n    <title>Ferry {CONTROL_TITLE}</title>\n    <guid>control-1</guid>\n"
        f"    <pubDate>{rfc822(minutes_ago(2))}</pubDate>\n"
        f"    <description>Body {CONTROL_TITLE}</description>\n  </item>\n"
    )
    h.feed(rss_document(item, title=f"Control {CONTROL_TITLE} wire"))


@_route("/content/bidi-references", "content", "bidi overrides as numeric character references (valid XML)")
def _bidi_references(h: _Handler) -> None:
    title = "Tunnel &#x202E;gnp.exe&#x202C; beacon &#x2067;isolate&#x2069; &#xFEFF;&#x200F;canal"
    item = (
        f"  <item>\n    <title>{title}</title>\n    <guid>bidi-1</guid>\n"
        f"    <pubDate>{rfc822(minutes_ago(2))}</pubDate>\n    <description>{title}</description>\n  </item>\n"
    )
    h.feed(rss_document(item, title="Bidi &#x202E;eriw&#x202C; wire"))


@_route("/content/missing-fields", "content", "entries without id, link or date (one without anything)")
def _missing_fields(h: _Handler) -> None:
    items = (
        "  <item><title>Granary mill pottery without id link or date</title></item>\n"
        "  <item><description>Only a description: bakery garden vineyard</description></item>\n"
        "  <item><title>Lighthouse wharf ribbon without id</title><link>https://hostile.example/no-id</link></item>\n"
        "  <item></item>\n"
    )
    h.feed(rss_document(items, title="Missing fields wire"))


@_route("/content/extreme-dates", "content", "dates in 1970, 2099, year 9999 and an impossible date")
def _extreme_dates(h: _Handler) -> None:
    items = "".join(
        f"  <item><title>{title}</title><guid>{guid}</guid><pubDate>{date}</pubDate></item>\n"
        for title, guid, date in [
            ("Saddle anchor compass dated 1970", "date-1970", "Thu, 01 Jan 1970 00:00:00 GMT"),
            ("Kettle ladder mirror dated 2099", "date-2099", "Thu, 31 Dec 2099 23:59:59 GMT"),
            ("Needle pillow rocket dated 9999", "date-9999", "Fri, 31 Dec 9999 23:59:59 GMT"),
            ("Shovel ticket violin dated February 31", "date-bad", "Wed, 31 Feb 2024 25:61:00 GMT"),
        ]
    )
    h.feed(rss_document(items, title="Extreme dates wire"))


@_route("/content/active-rss", "content", "script/style/iframe/object/on*/javascript:/data: in RSS")
def _route_active_rss(h: _Handler) -> None:
    h.feed(_active_rss())


@_route("/content/active-atom-html", "content", "the same attacks in Atom type=html summary/content and titles")
def _route_active_atom_html(h: _Handler) -> None:
    h.feed(_active_atom_html(), content_type="application/atom+xml; charset=utf-8")


@_route("/content/active-atom-xhtml", "content", "the same attacks in Atom type=xhtml content and title")
def _route_active_atom_xhtml(h: _Handler) -> None:
    h.feed(_active_atom_xhtml(), content_type="application/atom+xml; charset=utf-8")
