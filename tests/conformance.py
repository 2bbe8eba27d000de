"""Conformance against feedparser's own test corpus: what the project's parse path keeps of each entry,
next to what plain feedparser reads from the same bytes.

    python -m tests.conformance [--cache DIR] [--json FILE] [--list N]

The corpus is the `tests/` folder of feedparser's source distribution, for the feedparser version
installed here. It is downloaded once with pip into the cache folder (default `.cache/conformance/`
at the repository root) with `pip download --no-binary :all: --no-deps`, unpacked there next to the
archive and reused: a cached run needs no network. No copy goes
into git.

Documents: every `*.xml` file under the corpus's `tests/` (wellformed, illformed, encoding,
entities, http). Each file's `Header: Name: value` comment lines are the HTTP headers its test
server would send, and are passed as response headers (a file under an `http` folder without a
Content-Type gets `application/xml`, as the test server guesses for `.xml`); the `Description:` /
`Expect:` lines are feedparser's own expectations and are ignored, and so are `SkipUnless:` lines
(the chardet documents are parsed whether chardet is installed or not). Skipped and listed with a reason:
the HTTP status fixtures (a `Status:` header other than 200: redirects, 404, the redirect to a 304,
with nothing to parse) and the `tests/compression` bodies (gzip/deflate transfer encodings, which
the fetch layer undoes before parsing).

Each document goes through `aggregator.parse.parse_feed(body, headers, URL, NOW)` and through
`feedparser.parse(body, response_headers=response_headers_for(headers, URL), sanitize_html=False,
resolve_relative_uris=True)`: the same base URL on both sides, but no DOCTYPE removal on
feedparser's. URL is `http://127.0.0.1/feed.xml`; NOW is 2100-01-01 UTC, so no date is "future".

Counts:

- crashes: parse_feed raised anything but ParseError (a bug);
- parse errors: parse_feed raised ParseError although feedparser found entries or a version;
  "rejected by both" when feedparser found neither;
- dropped empty entries: feedparser entries with no id, no http(s) link, no title, summary or
  content text (what the project drops as saying nothing); they are left out of the pairing;
- entry-count mismatches: documents whose entry counts still differ after that; their entries are
  not compared (pairing by position would compare unrelated entries);
- entries compared: the remaining entries, paired by position, in documents where both sides
  produced entries.

Agreement per field, on normalised forms ("text" collapses runs of whitespace and strips the ends;
"HTML text" is the text content of markup, tags dropped, references decoded, then collapsed):

- title: the project's title against feedparser's title as text: for type text/plain the value
  itself, for HTML the value through the project's `plain_text`; no title is "(untitled)";
- link: the project's link against feedparser's `link`, both absent agree;
- id: the project's guid against feedparser's `id` (stripped), both absent agree;
- published: the project's date against feedparser's `published_parsed`, or `updated_parsed` when
  the entry has no published date (the project dates such an entry by its update); equal instants;
- updated: the project's date against feedparser's `updated_parsed`; equal instants;
- summary: the HTML text of the project's summary against the text of feedparser's `summary`
  (HTML text for HTML, the value itself for text/plain);
- content: the same for the first `content` value; the project keeps a content equal to the
  summary once, as the summary, so an empty project content agrees with a feedparser content
  whose text is the summary's text;
- author: the project's author against feedparser's `author`, as text;
- categories: the project's categories against feedparser's tag terms, in order, text, without
  duplicates (the project keeps each category once).

A disagreement has a kind. These kinds are the project's documented choices, counted apart from
the others ("deliberate"):

- "changed by sanitising": the project's text is the text of feedparser's value after the project's
  `sanitise_html` (scripts, styles, SVG and other disallowed elements removed);
- "control characters removed": the texts are equal but for control and format characters (C0/C1
  controls, bidi overrides), which the project drops;
- "date before 1970": the project drops such dates (unset defaults, not publication times);
- "not an http(s) URL": the project keeps a link only when it is http(s) without whitespace;
- "e-mail removed": the project's author is feedparser's without the e-mail address;
- "label for a missing term": the project names a category by its label when it has no term;
- "cut at 500 characters": the project cuts titles there;
- "entity of the DOCTYPE not expanded": the project removes the DOCTYPE before parsing, so an entity
  it defines stays a reference (the defence against entity-expansion bombs).

Every other disagreement is "differs", "missing in the project", "missing in feedparser" or "text
read as HTML" (a text/plain value whose project text is the value read as HTML: tags dropped,
references decoded). tests/test_conformance.py keeps a floor under each field's share of agreements
and deliberate differences.

Output: a table on stdout (counts, then per field: agreements, deliberate and other differences,
their total and percentages), then the parse errors, crashes and skipped files, then up to
`--list N` disagreements (default 50, the undocumented ones first; 0 for none), each value cut to
100 characters with control characters escaped; `--json FILE` writes every figure and every
disagreement. A progress bar goes to stderr when it is a terminal. The exit status is 0 once the
comparison ran, whatever it found, and 1 with one sentence on stderr when the corpus cannot be
downloaded.
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import importlib.metadata
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from aggregator.exceptions import ParseError
from aggregator.parse import EARLIEST_DATE, UNTITLED, parse_feed
from aggregator.parse.feedparser import response_headers_for
from aggregator.text import plain_text, sanitise_html
from aggregator.types import Entry

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPOSITORY / ".cache" / "conformance"
URL = "http://127.0.0.1/feed.xml"
NOW = datetime(2100, 1, 1, tzinfo=UTC)
FIELDS = ("title", "link", "id", "published", "updated", "summary", "content", "author", "categories")
DELIBERATE = frozenset(
    {
        "changed by sanitising",
        "date before 1970",
        "not an http(s) URL",
        "e-mail removed",
        "label for a missing term",
        "cut at 500 characters",
        "control characters removed",
        "entity of the DOCTYPE not expanded",
    }
)
_ENTITY_REFERENCE = re.compile(r"&[A-Za-z_][\w.-]*;")
SHOWN_CHARS = 100
PIP_TIMEOUT = 600

_HEADER = re.compile(rb"^Header:\s+([^:]+):(.+)$", re.MULTILINE)  # as feedparser's test server reads them
_EMAIL = re.compile(r"<?\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\b>?")
_SPACE = re.compile(r"\s")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|<\s*>|\[\s*\]")


class CorpusUnavailable(Exception):
    """The corpus is not in the cache and could not be downloaded; the message is one sentence."""


# --- the corpus ----------------------------------------------------------------------------------


def feedparser_version() -> str:
    return importlib.metadata.version("feedparser")


def corpus_path(cache: Path = DEFAULT_CACHE, version: str | None = None) -> Path:
    """Where the unpacked corpus is (or would be) for this feedparser version."""
    return cache / f"feedparser-{version or feedparser_version()}" / "tests"


def cached_corpus(cache: Path = DEFAULT_CACHE) -> Path | None:
    """The unpacked corpus when the cache has it, else None (no network)."""
    path = corpus_path(cache)
    return path if path.is_dir() else None


def fetch_corpus(cache: Path = DEFAULT_CACHE) -> Path:
    """The unpacked corpus, downloaded with pip and unpacked first when the cache does not have it."""
    found = cached_corpus(cache)
    if found is not None:
        return found
    version = feedparser_version()
    cache.mkdir(parents=True, exist_ok=True)
    archive = _sdist(cache, version) or _download(cache, version)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        try:
            _unpack(archive, Path(scratch))
        except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
            raise CorpusUnavailable(f"The feedparser {version} sdist {archive} could not be unpacked: {exc}.") from exc
        unpacked = Path(scratch) / f"feedparser-{version}"
        if not (unpacked / "tests").is_dir():
            raise CorpusUnavailable(f"The feedparser {version} sdist {archive} has no tests/ folder.")
        target = corpus_path(cache, version).parent
        with contextlib.suppress(FileExistsError, OSError):
            unpacked.rename(target)  # atomic: a half-unpacked corpus is never found
    if cached_corpus(cache) is None:
        raise CorpusUnavailable(f"The feedparser {version} corpus could not be unpacked into {cache}.")
    return corpus_path(cache, version)


def _sdist(cache: Path, version: str) -> Path | None:
    for suffix in (".tar.gz", ".zip"):
        path = cache / f"feedparser-{version}{suffix}"
        if path.is_file():
            return path
    return None


def _download(cache: Path, version: str) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
    command += ["--disable-pip-version-check", "--no-input", f"feedparser=={version}", "-d", str(cache)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CorpusUnavailable(f"The feedparser {version} sdist could not be downloaded: {exc}.") from exc
    archive = _sdist(cache, version)
    if done.returncode != 0 or archive is None:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        why = f": {lines[-1].removeprefix('ERROR: ').rstrip('.')}" if lines else ""
        raise CorpusUnavailable(
            f"The feedparser {version} sdist could not be downloaded into {cache} "
            f"(pip exited with status {done.returncode}{why})."
        )
    return archive


def _unpack(archive: Path, into: Path) -> None:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(into)
    else:
        with tarfile.open(archive) as bundle:
            bundle.extractall(into, filter="data")


@dataclass(frozen=True)
class Document:
    """One corpus file: its name (relative to the corpus), bytes, the headers its test server sends,
    and why it is not compared, if it is not."""

    name: str
    body: bytes
    headers: dict[str, str]
    skip: str | None = None


def documents(corpus: Path) -> list[Document]:
    """Every document file of the corpus, in name order; HTTP status and compression fixtures are
    returned with a reason to skip them."""
    found: list[Document] = []
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        name = path.relative_to(corpus).as_posix()
        if name.startswith("compression/"):
            found.append(Document(name, b"", {}, "a Content-Encoding fixture: the fetch layer decompresses bodies"))
            continue
        if path.suffix != ".xml":
            continue
        body = path.read_bytes()
        headers = {
            key.decode("utf-8", "replace").strip(): value.decode("utf-8", "replace").strip()
            for key, value in _HEADER.findall(body)
        }
        status = headers.pop("Status", "200")
        if status != "200":
            found.append(Document(name, body, headers, f"an HTTP status fixture (status {status}): nothing to parse"))
            continue
        if "http" in name and not any(key.lower() == "content-type" for key in headers):
            headers["Content-Type"] = "application/xml"
        found.append(Document(name, body, headers))
    return found


# --- comparing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Disagreement:
    file: str
    entry: int
    field: str
    kind: str
    project: str
    feedparser: str


@dataclass
class Tally:
    """One field's comparisons: `valued` counts those where either side had a value (the rest agree
    on having none)."""

    agree: int = 0
    deliberate: int = 0
    differ: int = 0
    valued: int = 0

    @property
    def total(self) -> int:
        return self.agree + self.deliberate + self.differ

    @property
    def percent(self) -> float:
        return 100.0 * self.agree / self.total if self.total else 100.0

    @property
    def accepted_percent(self) -> float:
        """Agreements and the project's documented choices, in % of the total."""
        return 100.0 * (self.agree + self.deliberate) / self.total if self.total else 100.0

    @property
    def valued_percent(self) -> float:
        agreed = self.agree - (self.total - self.valued)
        return 100.0 * agreed / self.valued if self.valued else 100.0


@dataclass
class Report:
    feedparser_version: str
    documents: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    crashes: list[tuple[str, str]] = field(default_factory=list)
    parse_errors: list[tuple[str, str]] = field(default_factory=list)
    rejected_by_both: list[str] = field(default_factory=list)
    feedparser_crashes: list[tuple[str, str]] = field(default_factory=list)
    count_mismatches: list[tuple[str, int, int]] = field(default_factory=list)
    entries_compared: int = 0
    dropped_empty: int = 0
    fields: dict[str, Tally] = field(default_factory=lambda: {name: Tally() for name in FIELDS})
    disagreements: list[Disagreement] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "feedparser_version": self.feedparser_version,
            "documents": self.documents,
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "crashes": [{"file": f, "error": e} for f, e in self.crashes],
            "parse_errors": [{"file": f, "error": e} for f, e in self.parse_errors],
            "rejected_by_both": self.rejected_by_both,
            "feedparser_crashes": [{"file": f, "error": e} for f, e in self.feedparser_crashes],
            "entry_count_mismatches": [
                {"file": f, "project": p, "feedparser": fp} for f, p, fp in self.count_mismatches
            ],
            "entries_compared": self.entries_compared,
            "dropped_empty_entries": self.dropped_empty,
            "fields": {
                name: {
                    **asdict(t),
                    "total": t.total,
                    "agree_percent": round(t.percent, 2),
                    "agree_or_deliberate_percent": round(t.accepted_percent, 2),
                    "valued_agree_percent": round(t.valued_percent, 2),
                }
                for name, t in self.fields.items()
            },
            "disagreements": [asdict(d) for d in self.disagreements],
            "seconds": round(self.seconds, 2),
        }


def run(corpus: Path, progress: Callable[[int, int], None] | None = None) -> Report:
    """Compare every document of the corpus."""
    report = Report(feedparser_version())
    started = time.perf_counter()
    docs = documents(corpus)
    for done, doc in enumerate(docs, 1):
        compare_document(doc, report)
        if progress is not None:
            progress(done, len(docs))
    report.seconds = time.perf_counter() - started
    return report


def compare_document(doc: Document, report: Report) -> None:
    """Parse one document both ways and add what was found to `report`."""
    if doc.skip is not None:
        report.skipped.append((doc.name, doc.skip))
        return
    report.documents += 1
    import feedparser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # feedparser's DeprecationWarnings and the like are not findings
        try:
            reference = feedparser.parse(
                doc.body,
                response_headers=response_headers_for(doc.headers, URL),
                sanitize_html=False,
                resolve_relative_uris=True,
            )
        except Exception as exc:
            report.feedparser_crashes.append((doc.name, f"{type(exc).__name__}: {exc}"))
            reference = None
        try:
            parsed = parse_feed(doc.body, dict(doc.headers), URL, NOW)
        except ParseError as exc:
            if reference is not None and (dict.get(reference, "version") or dict.get(reference, "entries")):
                report.parse_errors.append((doc.name, str(exc)))
            else:
                report.rejected_by_both.append(doc.name)
            return
        except Exception as exc:
            report.crashes.append((doc.name, f"{type(exc).__name__}: {exc}"))
            return
        if reference is None:
            return
        raw_entries: list[Mapping[str, Any]] = list(dict.get(reference, "entries") or [])
        if not parsed.entries and not raw_entries:
            return
        kept = [raw for raw in raw_entries if not _says_nothing(raw)]
        dropped = len(raw_entries) - len(kept)
        if len(parsed.entries) == len(kept):
            report.dropped_empty += dropped
        elif len(parsed.entries) == len(raw_entries):
            kept = raw_entries
        else:
            report.count_mismatches.append((doc.name, len(parsed.entries), len(raw_entries)))
            return
        if not parsed.entries:
            return
        for index, (entry, raw) in enumerate(zip(parsed.entries, kept, strict=True)):
            report.entries_compared += 1
            for name, (agrees, kind, mine, theirs) in compare_entry(entry, raw).items():
                tally = report.fields[name]
                if _has_value(mine) or _has_value(theirs):
                    tally.valued += 1
                if agrees:
                    tally.agree += 1
                    continue
                if kind in DELIBERATE:
                    tally.deliberate += 1
                else:
                    tally.differ += 1
                report.disagreements.append(Disagreement(doc.name, index, name, kind, _as_text(mine), _as_text(theirs)))


Outcome = tuple[bool, str, object, object]  # agrees, kind of disagreement, project value, feedparser value


def compare_entry(entry: Entry, raw: Mapping[str, Any]) -> dict[str, Outcome]:
    """Each field of the project's entry against the feedparser entry it was paired with."""
    return {
        "title": _title(entry, raw),
        "link": _link(entry, raw),
        "id": _same(entry.guid, (_get(raw, "id") or "").strip() or None),
        "published": _date(entry.published, _parsed_date(raw, "published") or _parsed_date(raw, "updated")),
        "updated": _date(entry.updated, _parsed_date(raw, "updated")),
        "summary": _html_field(entry.summary, _get(raw, "summary") or "", _detail_type(raw, "summary")),
        "content": _content(entry, raw),
        "author": _author(entry, raw),
        "categories": _categories(entry, raw),
    }


def _get(raw: Mapping[str, Any], key: str) -> Any:
    # dict.get: FeedParserDict answers some missing keys with others (updated with published).
    return dict.get(raw, key) if isinstance(raw, dict) else raw.get(key)


def _detail_type(raw: Mapping[str, Any], key: str) -> str:
    detail = _get(raw, f"{key}_detail") or {}
    if not detail and key == "summary":
        value, kind_of = _first_content(raw)
        if value and value == _get(raw, "summary"):
            return kind_of  # feedparser's copy of the content, without a summary_detail of its own
    return str(detail.get("type") or "text/html")


def _first_content(raw: Mapping[str, Any]) -> tuple[str, str]:
    contents = _get(raw, "content") or []
    if not contents:
        return "", "text/html"
    return str(contents[0].get("value") or ""), str(contents[0].get("type") or "text/html")


def _says_nothing(raw: Mapping[str, Any]) -> bool:
    """A feedparser entry the project drops: no id, http(s) link, title, summary or content."""
    link = str(_get(raw, "link") or "").strip()
    return not (
        (_get(raw, "id") or "").strip()
        or (link.lower().startswith(("http://", "https://")) and not _SPACE.search(link))
        or plain_text(_get(raw, "title") or "")
        or sanitise_html(_get(raw, "summary") or "")
        or sanitise_html(_first_content(raw)[0])
    )


def text(value: str) -> str:
    """Runs of whitespace collapsed, the ends stripped."""
    return " ".join(value.split())


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(markup: str) -> str:
    """The text content of HTML: tags and comments dropped, references decoded (script and style text
    kept), whitespace collapsed."""
    reader = _TextOf()
    reader.feed(markup)
    reader.close()
    return text("".join(reader.parts))


def _without_controls(value: str) -> str:
    return "".join(ch for ch in value if unicodedata.category(ch) not in ("Cc", "Cf", "Cs") or ch in "\t\n\r")


def _text_kind(mine: str, theirs: str) -> str:
    if not mine:
        return "missing in the project"
    if not theirs:
        return "missing in feedparser"
    if _without_controls(mine) == _without_controls(theirs) or text(_without_controls(theirs)) == mine:
        return "control characters removed"
    if mine.endswith("\u2026") and theirs.startswith(mine[:-1].rstrip()):
        return "cut at 500 characters"
    return "differs"


def _title(entry: Entry, raw: Mapping[str, Any]) -> Outcome:
    value = str(_get(raw, "title") or "")
    kind_of = _detail_type(raw, "title")
    expected = text(value) if kind_of == "text/plain" else plain_text(value)
    expected = expected or UNTITLED
    if entry.title == expected:
        return True, "", entry.title, expected
    if _without_controls(entry.title) == text(_without_controls(expected)):
        return False, "control characters removed", entry.title, expected
    if kind_of == "text/plain" and entry.title == (plain_text(value) or UNTITLED):
        return False, "text read as HTML", entry.title, expected
    return False, _text_kind(entry.title, expected), entry.title, expected


def _link(entry: Entry, raw: Mapping[str, Any]) -> Outcome:
    expected = str(_get(raw, "link") or "").strip() or None
    if entry.link == expected:
        return True, "", entry.link, expected
    if (
        entry.link is None
        and expected
        and (not expected.lower().startswith(("http://", "https://")) or _SPACE.search(expected))
    ):
        return False, "not an http(s) URL", entry.link, expected
    return False, _presence_kind(entry.link, expected), entry.link, expected


def _presence_kind(mine: object, theirs: object) -> str:
    if mine is None or mine == "" or mine == ():
        return "missing in the project"
    if theirs is None or theirs == "" or theirs == ():
        return "missing in feedparser"
    return "differs"


def _same(mine: str | None, theirs: str | None) -> Outcome:
    if mine == theirs:
        return True, "", mine, theirs
    if mine and theirs and _without_controls(mine) == _without_controls(theirs).strip():
        return False, "control characters removed", mine, theirs
    if mine and theirs and _ENTITY_REFERENCE.search(mine) and not _ENTITY_REFERENCE.search(theirs):
        return False, "entity of the DOCTYPE not expanded", mine, theirs
    return False, _presence_kind(mine, theirs), mine, theirs


def _parsed_date(raw: Mapping[str, Any], key: str) -> datetime | None:
    parsed = _get(raw, f"{key}_parsed")
    if not parsed:
        return None
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=calendar.timegm(parsed))
    except (OverflowError, ValueError, TypeError):
        return None


def _date(mine: datetime | None, theirs: datetime | None) -> Outcome:
    if mine == theirs:
        return True, "", mine, theirs
    if mine is None and theirs is not None and theirs < EARLIEST_DATE:
        return False, "date before 1970", mine, theirs
    return False, _presence_kind(mine, theirs), mine, theirs


def _html_field(mine_html: str, value: str, kind_of: str) -> Outcome:
    mine = html_text(mine_html)
    expected = text(value) if kind_of == "text/plain" else html_text(value)
    if mine == expected:
        return True, "", mine, expected
    if mine and _without_controls(mine) == _without_controls(expected):
        return False, "control characters removed", mine, expected
    if mine == html_text(sanitise_html(value)):
        kind = "text read as HTML" if kind_of == "text/plain" else "changed by sanitising"
        return False, kind, mine, expected
    return False, _text_kind(mine, expected), mine, expected


def _content(entry: Entry, raw: Mapping[str, Any]) -> Outcome:
    value, kind_of = _first_content(raw)
    outcome = _html_field(entry.content, value, kind_of)
    if outcome[0] or entry.content:
        return outcome
    raw_summary = str(_get(raw, "summary") or "")
    summary = _html_field(entry.summary, raw_summary, _detail_type(raw, "summary"))
    if value == raw_summary or outcome[3] in (summary[2], summary[3]):
        return True, "", "", outcome[3]  # kept once, as the summary
    return outcome


def _author(entry: Entry, raw: Mapping[str, Any]) -> Outcome:
    expected = text(str(_get(raw, "author") or "")) or None
    if entry.author == expected:
        return True, "", entry.author, expected
    if expected and _EMAIL.search(expected):
        name = text(_EMPTY_BRACKETS.sub("", _EMAIL.sub("", expected))) or None
        detail_name = text(str((_get(raw, "author_detail") or {}).get("name") or "")) or None
        if entry.author in (name, detail_name):
            return False, "e-mail removed", entry.author, expected
    if entry.author and expected and entry.author == plain_text(expected):
        return False, "text read as HTML", entry.author, expected
    return False, _presence_kind(entry.author, expected), entry.author, expected


def _categories(entry: Entry, raw: Mapping[str, Any]) -> Outcome:
    tags: Sequence[Mapping[str, Any]] = _get(raw, "tags") or []
    expected = tuple(term for term in dict.fromkeys(text(str(tag.get("term") or "")) for tag in tags) if term)
    mine = tuple(entry.categories)
    if mine == expected:
        return True, "", mine, expected
    labelled = tuple(term for term in dict.fromkeys(_term_or_label(tag) for tag in tags) if term)
    if mine == labelled:
        return False, "label for a missing term", mine, expected
    return False, _presence_kind(mine, expected), mine, expected


def _has_value(value: object) -> bool:
    return value not in (None, "", (), UNTITLED)


def _term_or_label(tag: Mapping[str, Any]) -> str:
    return text(str(tag.get("term") or tag.get("label") or ""))


def _as_text(value: object) -> str:
    """A compared value as the report writes it in full."""
    if value is None:
        return "(none)"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return json.dumps(list(value), ensure_ascii=False)
    return repr(value) if isinstance(value, str) and not value else str(value)


def shown(value: str) -> str:
    """`value` for a terminal: control and format characters escaped (they are often the difference,
    and a terminal hides them), cut to SHOWN_CHARS."""
    escaped = "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in ("Cc", "Cf", "Cs") else ch
        for ch in value
    )
    return escaped if len(escaped) <= SHOWN_CHARS else escaped[: SHOWN_CHARS - 1] + "\u2026"


# --- output --------------------------------------------------------------------------------------


def table(report: Report) -> str:
    """The summary table."""
    rows = [
        ("documents", report.documents),
        ("skipped (fixtures)", len(report.skipped)),
        ("crashes", len(report.crashes)),
        ("parse errors", len(report.parse_errors)),
        ("rejected by both", len(report.rejected_by_both)),
        ("feedparser crashes", len(report.feedparser_crashes)),
        ("entry-count mismatches", len(report.count_mismatches)),
        ("entries compared", report.entries_compared),
        ("dropped empty entries", report.dropped_empty),
    ]
    lines = [f"Conformance against the feedparser {report.feedparser_version} test corpus ({report.seconds:.1f} s)", ""]
    lines += [f"{label:<24}{value:>8,}" for label, value in rows]
    header = (
        "field",
        "agree",
        "deliberate",
        "differ",
        "total",
        "agree %",
        "+deliberate %",
        "valued",
        "agree % of valued",
    )
    lines += ["", "{:<12}{:>7}{:>11}{:>7}{:>7}{:>9}{:>14}{:>8}{:>19}".format(*header)]
    for name, t in report.fields.items():
        lines.append(
            f"{name:<12}{t.agree:>7,}{t.deliberate:>11,}{t.differ:>7,}{t.total:>7,}{t.percent:>8.2f}%"
            f"{t.accepted_percent:>13.2f}%{t.valued:>8,}{t.valued_percent:>18.2f}%"
        )
    lines += [
        "",
        "agree %: of the entries compared; +deliberate %: agreements and the project's documented choices",
        "(sanitising, dates before 1970, ...: see the module's docstring); valued: entries where either side",
        "has a value, the others agreeing on having none.",
    ]
    return "\n".join(lines)


def listing(report: Report, limit: int) -> str:
    """Crashes, parse errors, count mismatches and up to `limit` disagreements (the rest are counted)."""
    lines: list[str] = []
    for title, items in (
        ("Crashes", report.crashes),
        ("Parse errors", report.parse_errors),
        ("feedparser crashes", report.feedparser_crashes),
    ):
        if items:
            lines += ["", f"{title}:"] + [f"  {name}: {shown(message)}" for name, message in items]
    if report.count_mismatches:
        lines += ["", "Entry-count mismatches (project, feedparser):"]
        lines += [f"  {name}: {mine}, {theirs}" for name, mine, theirs in report.count_mismatches]
    if report.skipped:
        lines += ["", "Skipped:"] + [f"  {name}: {reason}" for name, reason in report.skipped]
    # The differences first, then the project's documented choices; each in file order.
    ordered = sorted(report.disagreements, key=lambda d: d.kind in DELIBERATE)
    picked = ordered[:limit]
    if picked:
        more = " (--json FILE writes them all)" if len(picked) < len(ordered) else ""
        lines += ["", f"Disagreements, {len(picked):,} of {len(ordered):,}{more}:"]
        for d in picked:
            lines.append(f"  {d.file} #{d.entry} {d.field} [{d.kind}]")
            lines.append(f"      project:    {shown(d.project)}")
            lines.append(f"      feedparser: {shown(d.feedparser)}")
    return "\n".join(lines)


def _progress_bar(done: int, total: int) -> None:
    width = 40
    filled = width * done // total
    end = "\n" if done == total else ""
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}", end=end, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the sdist is kept and unpacked")
    parser.add_argument("--json", type=Path, help="write every figure and every disagreement to this file")
    parser.add_argument("--list", type=int, default=50, metavar="N", help="disagreements to print (0: none)")
    args = parser.parse_args(argv)
    try:
        corpus = fetch_corpus(args.cache)
    except CorpusUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    report = run(corpus, _progress_bar if sys.stderr.isatty() else None)
    print(table(report))
    listed = listing(report, max(args.list, 0))
    if listed:
        print(listed)
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
