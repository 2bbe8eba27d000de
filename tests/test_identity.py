"""identity: canonical URLs, source URL normalising, item keys, content hashes, story keys."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.exceptions import InvalidURLError
from aggregator.identity import canonical_url, content_hash, item_key, normalise_source_url, story_key
from aggregator.types import Entry

ARTICLE = "https://example.com/world/typhoon-landfall"


def make_entry(**changes: object) -> Entry:
    base = Entry(
        guid="wire-1",
        title="Typhoon makes landfall in Fujian",
        link="https://example.com/world/typhoon",
        summary="<p>Winds of 150 km/h.</p>",
        content="<p>Full report.</p>",
        author="Desk",
        published=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        updated=datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# --- canonical_url ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        ARTICLE + "?utm_source=rss&utm_medium=feed&utm_campaign=x",
        ARTICLE + "?fbclid=IwAR0abc",
        ARTICLE + "?gclid=Cj0KCQ",
        ARTICLE + "?UTM_Source=rss",
    ],
)
def test_canonical_url_removes_tracking_parameters(url: str) -> None:
    assert canonical_url(url) == ARTICLE


def test_canonical_url_keeps_other_parameters_sorted() -> None:
    url = ARTICLE + "?page=2&utm_source=rss&id=7&b=x"
    assert canonical_url(url) == ARTICLE + "?b=x&id=7&page=2"


def test_canonical_url_treats_http_and_https_alike() -> None:
    assert canonical_url("http://example.com/world/typhoon-landfall") == canonical_url(ARTICLE)


@pytest.mark.parametrize("host", ["www.example.com", "m.example.com", "WWW.Example.COM"])
def test_canonical_url_drops_www_and_mobile_host_prefixes(host: str) -> None:
    assert canonical_url(f"https://{host}/world/typhoon-landfall") == ARTICLE


def test_canonical_url_keeps_www_when_it_is_the_registered_name() -> None:
    assert canonical_url("https://www.com/a") == "https://www.com/a"


@pytest.mark.parametrize("url", ["http://example.com:80/world/typhoon-landfall", ARTICLE.replace(".com", ".com:443")])
def test_canonical_url_drops_default_port(url: str) -> None:
    assert canonical_url(url) == ARTICLE


def test_canonical_url_keeps_other_ports() -> None:
    assert canonical_url("https://example.com:8443/a") == "https://example.com:8443/a"


def test_canonical_url_drops_fragment() -> None:
    assert canonical_url(ARTICLE + "#comments") == ARTICLE


def test_canonical_url_drops_trailing_slash() -> None:
    assert canonical_url(ARTICLE + "/") == ARTICLE


@pytest.mark.parametrize("suffix", ["/amp", "/amp/"])
def test_canonical_url_drops_amp_path_suffix(suffix: str) -> None:
    assert canonical_url(ARTICLE + suffix) == ARTICLE


def test_canonical_url_all_rules_together() -> None:
    url = "http://www.Example.com:80/world/typhoon-landfall/amp/?utm_source=x&b=2&a=1&gclid=q#top"
    assert canonical_url(url) == ARTICLE + "?a=1&b=2"


@pytest.mark.parametrize("url", [None, "", "ftp://example.com/a", "mailto:desk@example.com", "/relative/path"])
def test_canonical_url_is_none_for_non_http_urls(url: str | None) -> None:
    assert canonical_url(url) is None


_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8) | st.sampled_from(
    ["www", "m", "amp", "WWW"]
)
_SEGMENT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Z")), max_size=8).map(
    lambda text: quote(text, safe="-._~!$'()*+,;=:@")
)


@st.composite
def article_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP"]))
    prefix = draw(st.sampled_from(["", "www.", "m.", "amp.", "WWW."]))
    names = prefix + ".".join(draw(st.lists(_LABEL, min_size=2, max_size=3)))
    host = draw(st.sampled_from([names, "[2001:db8::1]", "127.0.0.1", names + "."]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = "/" + "/".join(draw(st.lists(_SEGMENT | st.just("amp"), max_size=4)))
    if draw(st.booleans()):
        path += draw(st.sampled_from(["/amp", "/amp/", "/"]))
    keys = st.sampled_from(["utm_source", "utm_medium", "fbclid", "gclid", "id", "page", "q", "a"]) | _SEGMENT
    pairs = draw(st.lists(st.tuples(keys, _SEGMENT), max_size=4))
    query = "&".join(f"{key}={value}" for key, value in pairs)
    fragment = draw(st.sampled_from(["", "#top", "#"]))
    return f"{scheme}://{host}{port}{path}{'?' + query if query else ''}{fragment}"


@given(article_urls())
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert once is not None
    assert canonical_url(once) == once


@pytest.mark.parametrize("host", ["m.www.example.com", "amp.m.example.com"])
def test_canonical_url_removes_stacked_host_prefixes_in_one_pass(host: str) -> None:
    once = canonical_url(f"https://{host}/a")
    assert once == "https://example.com/a"


def test_canonical_url_removes_repeated_amp_suffix_in_one_pass() -> None:
    assert canonical_url(ARTICLE + "/amp/amp/") == ARTICLE


def test_canonical_url_drops_443_after_switching_http_to_https() -> None:
    once = canonical_url("http://example.com:443/a")
    assert once == "https://example.com/a"


def test_canonical_url_keeps_ipv6_brackets() -> None:
    assert canonical_url("http://[2001:db8::1]:8080/a") == "https://[2001:db8::1]:8080/a"


def test_canonical_url_is_none_when_host_is_only_dots() -> None:
    assert canonical_url("http://./a") is None


def test_canonical_url_is_none_for_malformed_ipv6_host() -> None:
    assert canonical_url("http://[oops/story") is None


# --- normalise_source_url --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/feed.xml", "file:///etc/passwd", "mailto:desk@example.com", "not a url", "http://", ""],
)
def test_normalise_source_url_rejects_non_http_urls(url: str) -> None:
    with pytest.raises(InvalidURLError):
        normalise_source_url(url)


def test_normalise_source_url_rejects_malformed_ipv6_host() -> None:
    with pytest.raises(InvalidURLError):
        normalise_source_url("http://[oops/feed.xml")


def test_normalise_source_url_lowercases_scheme_and_host() -> None:
    assert normalise_source_url("HTTPS://Feeds.Example.COM/World.xml") == "https://feeds.example.com/World.xml"


def test_normalise_source_url_drops_default_port_and_fragment() -> None:
    assert normalise_source_url("http://example.com:80/rss#latest") == "http://example.com/rss"
    assert normalise_source_url("https://example.com:443/rss") == "https://example.com/rss"


def test_normalise_source_url_keeps_query_www_and_other_ports() -> None:
    url = "http://www.example.com:8080/rss?section=world&utm_source=x"
    assert normalise_source_url(url) == url


def test_normalise_source_url_keeps_scheme() -> None:
    assert normalise_source_url("http://example.com/rss") != normalise_source_url("https://example.com/rss")


def test_normalise_source_url_gives_root_path_to_bare_host() -> None:
    assert normalise_source_url("https://example.com") == "https://example.com/"


# --- item_key and content_hash ---------------------------------------------------------------


def test_item_key_prefers_guid() -> None:
    assert item_key(make_entry(guid="  wire-1 ")) == "id:wire-1"


def test_item_key_falls_back_to_canonical_link() -> None:
    entry = make_entry(guid=None, link="http://www.example.com/world/typhoon/?utm_source=rss")
    assert item_key(entry) == "link:https://example.com/world/typhoon"


def test_item_key_treats_blank_guid_as_missing() -> None:
    assert item_key(make_entry(guid="   ")).startswith("link:")


def test_item_key_falls_back_to_hash_without_guid_or_link() -> None:
    key = item_key(make_entry(guid=None, link=None))
    assert key.startswith("hash:")
    assert key == item_key(make_entry(guid=None, link=None))


def test_item_key_hash_differs_when_title_differs() -> None:
    first = item_key(make_entry(guid=None, link=None))
    second = item_key(make_entry(guid=None, link=None, title="Typhoon weakens over Fujian"))
    assert first != second


@pytest.mark.parametrize("link", ["ftp://example.com/a", "http://[oops/story"])
def test_item_key_hash_ignores_an_unusable_link(link: str) -> None:
    assert item_key(make_entry(guid=None, link=link)).startswith("hash:")


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Typhoon weakens"},
        {"summary": "<p>Winds of 120 km/h.</p>"},
        {"content": "<p>Updated full report.</p>"},
        {"link": "https://example.com/world/typhoon-2"},
    ],
    ids=["title", "summary", "content", "link"],
)
def test_content_hash_changes_when_visible_content_changes(change: dict[str, str]) -> None:
    assert content_hash(make_entry(**change)) != content_hash(make_entry())


@pytest.mark.parametrize(
    "change",
    [
        {"guid": "wire-2"},
        {"published": datetime(2026, 11, 27, tzinfo=UTC)},
        {"updated": datetime(2026, 11, 28, 11, 0, tzinfo=UTC)},
    ],
    ids=["guid", "published", "updated"],
)
def test_content_hash_ignores_identity_and_dates(change: dict[str, object]) -> None:
    assert content_hash(make_entry(**change)) == content_hash(make_entry())


# --- story_key -------------------------------------------------------------------------------


def test_story_key_is_stable_uuid() -> None:
    key = story_key("https://example.com/feed.xml", "id:wire-1")
    assert key == story_key("https://example.com/feed.xml", "id:wire-1")
    assert str(uuid.UUID(key)) == key


def test_story_key_differs_per_source_and_item() -> None:
    key = story_key("https://example.com/feed.xml", "id:wire-1")
    assert key != story_key("https://example.com/other.xml", "id:wire-1")
    assert key != story_key("https://example.com/feed.xml", "id:wire-2")
