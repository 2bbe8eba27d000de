"""Identity, pure: which URLs are fetched, the form URLs are compared in, and what identifies an
item, a fetched document and a story.

- A *source URL* is normalised lightly (scheme and host case, default port, fragment), because two
  feeds that differ by `www.` or query may really be different feeds.
- An *article URL* is canonicalised hard (https, no `www.`/`m.`, no tracking parameters, sorted
  query, no trailing slash), because wires hand out the same article under many spellings.
- An item's key inside its source: its id/guid; else its canonical link; else a hash of title,
  date and summary.
- A fetch (or redirect) target is refused unless it is http(s) and, with `[poll] block_private`,
  no literal private address.
- A fetched document is known by a hash of its body, a story by a UUID from its first report.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aggregator.exceptions import InvalidURLError
from aggregator.types import Entry

DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that only track the reader; removing them never changes the article.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "ocid",
        "cmpid",
        "ref",
        "ref_src",
        "rss",
        "cmp",
        "ito",
        "smid",
        "partner",
        "src",
        "feature",
        "igshid",
        "_ga",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "at_medium",
        "at_campaign",
        "wt.mc_id",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "guccounter",
        "amp",
    }
)
TRACKING_PREFIXES = ("utm_",)


def normalise_source_url(url: str) -> str:
    """A feed URL in the form sources are compared by; raises InvalidURLError if not http(s)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidURLError(f"{url!r} has an invalid host or port.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise InvalidURLError(f"{url!r} is not an http or https URL with a host.")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = f"{parts.username or ''}{':' + parts.password if parts.password else ''}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


# Cached, like host_of: a poll asks both of every source's URL, and splitting it is most of the cost.
@functools.lru_cache(maxsize=4096)
def refused_target(url: str, block_private: bool) -> str | None:
    """Why a fetch (or a redirect) to `url` is refused, or None: only http(s), and with
    `block_private` no literal private, loopback, link-local or reserved address."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "only http and https URLs are fetched"
    if block_private:
        try:
            address = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return None  # a name: the resolver checks what it resolves to
        if not address.is_global:
            return f"{address} is a private address ([poll] block_private)"
    return None


@functools.lru_cache(maxsize=4096)
def host_of(url: str) -> str:
    """The lower-case host of a URL ("" when it has none)."""
    return (urlsplit(url).hostname or "").lower()


def canonical_url(url: str | None) -> str | None:
    """The article URL with every cosmetic or tracking difference removed; idempotent."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a malformed IPv6 host or port in a publisher's link
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().strip(".")
    if scheme not in DEFAULT_PORTS or not host:
        return None
    stripped = True
    while stripped:
        stripped = False
        for prefix in ("www.", "m.", "amp."):
            if host.startswith(prefix) and host.count(".") >= 2:
                host, stripped = host[len(prefix) :], True
    if ":" in host:
        host = f"[{host}]"
    # The result is https, so a port that is the default of either scheme says nothing.
    netloc = host if port in (None, DEFAULT_PORTS[scheme], DEFAULT_PORTS["https"]) else f"{host}:{port}"
    path = re.sub(r"/+", "/", parts.path)
    previous = None
    while previous != path:
        previous, path = path, re.sub(r"/amp/?$", "", path).rstrip("/")
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMETERS and not key.lower().startswith(TRACKING_PREFIXES)
    ]
    # http and https name the same article; https is what a reader should get.
    return urlunsplit(("https", netloc, path, urlencode(sorted(query)), ""))


def item_key(entry: Entry) -> str:
    """An entry's identity inside its source: id/guid, else canonical link, else a content hash."""
    if entry.guid and entry.guid.strip():
        return "id:" + entry.guid.strip()
    link = canonical_url(entry.link)
    if link:
        return "link:" + link
    published = entry.published.isoformat() if entry.published else ""
    return "hash:" + _sha1("\x00".join((entry.title, published, entry.summary)))


def content_hash(entry: Entry) -> str:
    """Changes exactly when what a reader sees of the entry changes."""
    return _sha1("\x00".join((entry.title, entry.link or "", entry.summary, entry.content, entry.author or "")))


def body_hash(body: bytes) -> str:
    """Identifies a fetched document, to skip parsing a body seen before."""
    return hashlib.sha256(body).hexdigest()


def story_key(source_url: str, key: str) -> str:
    """A story's permanent identity: a UUID derived from its first report, used as its Atom id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{source_url}\n{key}"))


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
