"""Golden-file tests of parse_feed: each tests/data/parse/<case>.xml beside <case>.expected.json.

The expected JSON holds `meta`, `entries` and `warning` (whether the parser reported a survivable
problem), or `error`: a substring of the ParseError message. An optional `headers` object replaces
the default response headers. A new case is a new file pair.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.exceptions import ParseError
from aggregator.parse import parse_feed
from aggregator.types import Entry, ParsedFeed

DATA = Path(__file__).parent.parent / "data" / "parse"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DEFAULT_HEADERS = {"content-type": "application/xml; charset=utf-8"}

# case -> why its expected file is not what the parser gives today; each entry is a bug to fix.
KNOWN_BUGS: dict[str, str] = {}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "guid": entry.guid,
        "title": entry.title,
        "link": entry.link,
        "summary": entry.summary,
        "content": entry.content,
        "author": entry.author,
        "published": _iso(entry.published),
        "updated": _iso(entry.updated),
    }


def render(parsed: ParsedFeed) -> dict[str, Any]:
    """The parse result as JSON-able data, in the shape of the expected files."""
    return {
        "meta": {"title": parsed.meta.title, "link": parsed.meta.link, "version": parsed.meta.version},
        "entries": [_entry_json(entry) for entry in parsed.entries],
        "warning": parsed.warning is not None,
    }


def _cases() -> list[Any]:
    params = []
    for path in sorted(DATA.glob("*.xml")):
        case = path.stem
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[case])] if case in KNOWN_BUGS else []
        params.append(pytest.param(case, id=case, marks=marks))
    return params


def test_cases_folder_is_complete() -> None:
    xml_cases = {path.stem for path in DATA.glob("*.xml")}
    json_cases = {path.name.removesuffix(".expected.json") for path in DATA.glob("*.expected.json")}
    assert xml_cases == json_cases
    assert set(KNOWN_BUGS) <= xml_cases


@pytest.mark.parametrize("case", _cases())
def test_parse_feed_matches_expected_file(case: str) -> None:
    body = (DATA / f"{case}.xml").read_bytes()
    expected = json.loads((DATA / f"{case}.expected.json").read_text(encoding="utf-8"))
    headers = expected.get("headers", DEFAULT_HEADERS)
    url = f"http://feeds.test/{case}.xml"

    if "error" in expected:
        with pytest.raises(ParseError, match=re.escape(expected["error"])):
            parse_feed(body, headers, url, NOW)
        return

    actual = render(parse_feed(body, headers, url, NOW))
    assert actual == {key: expected[key] for key in ("meta", "entries", "warning")}
