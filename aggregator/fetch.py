"""The only network code: conditional GETs of many feeds at once, with aiohttp.

Every fetch sends the stored validators back byte for byte (If-None-Match, If-Modified-Since),
accepts gzip and deflate, follows at most 5 redirects, and is bounded by a total deadline
(connect, headers and body together) and a body limit counted after decompression while
reading. At most `[poll] concurrency` fetches are in flight, and `[poll] per_host` to one host.
Redirects are followed here, not by aiohttp, so every target is checked: only http and https,
and with `[poll] block_private` no loopback, private, link-local or metadata address.
A failure is returned as the FetchResult's error, never raised: one source never stops the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urljoin

import aiohttp
import aiohttp.abc

from aggregator import __version__
from aggregator.config import PollSettings
from aggregator.identity import host_of, refused_target
from aggregator.types import FetchResult, Source

USER_AGENT = f"offthewire/{__version__} (news-wire feed aggregator; +https://pypi.org/project/offthewire/)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 64 * 1024


async def fetch_all(
    sources: Sequence[Source],
    settings: PollSettings,
    on_result: Callable[[FetchResult], Awaitable[object] | None] | None = None,
) -> list[FetchResult]:
    """Fetch every source concurrently; results in the order of `sources`. When `on_result`
    returns an awaitable (the body is parsed and stored by then), the fetch's slot is held until
    it is done, and the result returned here has no body: a consumer that cannot keep up slows
    fetching down instead of piling up bodies."""
    global_slots = asyncio.Semaphore(settings.concurrency)
    host_slots: dict[str, asyncio.Semaphore] = {}
    resolver = PublicOnlyResolver() if settings.block_private else None
    connector = aiohttp.TCPConnector(limit=settings.concurrency, limit_per_host=0, ttl_dns_cache=300, resolver=resolver)
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"}

    async with aiohttp.ClientSession(connector=connector, headers=headers, auto_decompress=True) as session:

        async def one(source: Source) -> FetchResult:
            host = host_of(source.url)
            slot = host_slots.setdefault(host, asyncio.Semaphore(settings.per_host))
            # Slots are taken before the deadline starts, so waiting in line never counts as a timeout.
            async with slot:
                await global_slots.acquire()
                try:
                    result = await fetch_one(session, source, settings)
                except BaseException:
                    global_slots.release()
                    raise
            # The host's slot is free again; the global one is held while the body is consumed.
            try:
                consumed = on_result(result) if on_result else None
                if consumed is not None:
                    await consumed
                    # Stored: the poll keeps every result to its end, but not every body.
                    result = dataclasses.replace(result, body=None)
            finally:
                global_slots.release()
            return result

        return list(await asyncio.gather(*(one(source) for source in sources)))


async def fetch_one(session: aiohttp.ClientSession, source: Source, settings: PollSettings) -> FetchResult:
    """One conditional GET under the total deadline and the body limit, following redirects by hand
    so that every hop's target is checked (http/https only; no private address when blocked)."""
    request_headers = {}
    # A validator with bytes that are not UTF-8 cannot be sent back unchanged (aiohttp writes
    # headers as UTF-8), and a mangled one would never match: such a validator is not sent.
    if source.etag and _sendable(source.etag):
        request_headers["If-None-Match"] = source.etag
    if source.last_modified and _sendable(source.last_modified):
        request_headers["If-Modified-Since"] = source.last_modified
    url = target = source.url
    loop = asyncio.get_running_loop()
    started = loop.time()
    hops: list[int] = []
    try:
        async with asyncio.timeout(settings.timeout):
            while True:
                refusal = refused_target(target, settings.block_private)
                if refusal:
                    where = f"a redirect led to {target[:80]!r}, which" if hops else f"{target[:80]!r}"
                    return FetchResult(url, target, error=f"{where} is refused: {refusal}")
                async with session.get(
                    target,
                    headers=request_headers,
                    allow_redirects=False,
                    timeout=_connect_timeout(settings.timeout),
                ) as response:
                    status = response.status
                    location = response.headers.get("Location")
                    if status in REDIRECTS and location:
                        if len(hops) == MAX_REDIRECTS:
                            return FetchResult(url, target, status, error=f"more than {MAX_REDIRECTS} redirects")
                        hops.append(status)
                        target = urljoin(target, location.strip())
                        continue
                    headers = {key.lower(): value for key, value in response.headers.items()}
                    # Only a chain of permanent redirects (301/308) means the feed itself has moved.
                    moved_to = target if hops and all(hop in (301, 308) for hop in hops) else None
                    result = functools.partial(FetchResult, url, target, status, headers, moved_to=moved_to)
                    if status == 304:
                        return result(elapsed=loop.time() - started)
                    if not 200 <= status < 300:
                        reason = f" {response.reason}" if response.reason else ""
                        return result(error=f"HTTP {status}{reason}", elapsed=loop.time() - started)
                    body = await _read_capped(response, settings.max_bytes)
                    if body is None:
                        error = f"the response is larger than the {settings.max_bytes:,}-byte limit"
                        return result(error=error, elapsed=loop.time() - started)
                    return result(body=body, elapsed=loop.time() - started)
    except TimeoutError:
        return FetchResult(url, target, error=f"no complete response within {settings.timeout:g} seconds")
    except PrivateAddressError as exc:
        return FetchResult(url, target, error=str(exc))
    except aiohttp.InvalidURL as exc:
        return FetchResult(url, target, error=f"invalid URL {exc}")
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, PrivateAddressError):
            return FetchResult(url, target, error=str(exc.os_error))
        why = exc.os_error.strerror or str(exc)
        return FetchResult(url, target, error=f"cannot connect to {exc.host}:{exc.port} ({why})")
    except aiohttp.ClientPayloadError as exc:
        return FetchResult(url, target, error=f"the response body is broken ({exc})")
    except aiohttp.ClientError as exc:
        return FetchResult(url, target, error=f"{type(exc).__name__}: {exc}".rstrip(": "))


@functools.lru_cache(maxsize=8)
def _connect_timeout(seconds: float) -> aiohttp.ClientTimeout:
    # The total deadline is asyncio.timeout's, around the redirects too.
    return aiohttp.ClientTimeout(total=None, connect=seconds)


class PrivateAddressError(OSError):
    """A host name that resolves only to addresses `[poll] block_private` forbids."""


class PublicOnlyResolver(aiohttp.abc.AbstractResolver):
    """Resolves as usual, then drops every address that is not globally routable."""

    def __init__(self) -> None:
        self.resolver = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        found = await self.resolver.resolve(host, port, family)
        public = [entry for entry in found if ipaddress.ip_address(entry["host"]).is_global]
        if not public:
            raise PrivateAddressError(f"{host} resolves only to private addresses ([poll] block_private)")
        return public

    async def close(self) -> None:
        await self.resolver.close()


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The decompressed body, or None as soon as it passes `limit` bytes."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit and not response.headers.get("Content-Encoding"):
        return None
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _sendable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


HUB_TIMEOUT = 10.0


async def notify_hub(hub: str, topic_urls: Sequence[str], timeout: float = HUB_TIMEOUT) -> list[str]:
    """Tell a WebSub hub that these feeds changed: one `hub.mode=publish` POST per feed URL, the
    form every public hub accepts. Returns one sentence per notification that failed."""
    failures: list[str] = []
    limits = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(headers={"User-Agent": USER_AGENT}, timeout=limits) as session:

        async def one(url: str) -> None:
            try:
                async with session.post(hub, data={"hub.mode": "publish", "hub.url": url}) as response:
                    if response.status >= 300:
                        failures.append(f"the hub {hub} answered {response.status} for {url}")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                failures.append(f"the hub {hub} could not be reached for {url}: {exc or type(exc).__name__}")

        await asyncio.gather(*(one(url) for url in topic_urls))
    return failures
