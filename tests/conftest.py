"""Shared fixtures for the integration tests: a real feed server, feed documents, and the real CLI.

`feed_server` is a FeedServer on 127.0.0.1; `rss()` and `atom()` build documents from
(guid, title, link, date[, summary]) tuples; `wire` is an installation in tmp_path (config file,
database, output folder) whose `run(*args)` runs `python -m aggregator --config FILE ARGS` as a
subprocess with TZ=UTC. `database` is where a store lives, once a SQLite file and once a
database of a throwaway PostgreSQL cluster (tests/postgresql.py): the store and pipeline suites run
on both engines. `new_database()` gives more empty databases on the same engine, and
`storage_settings(database)` the `[storage]` settings that open one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from feedserver import FeedServer
from hypothesis import settings

from aggregator.config import StorageSettings
from tests.postgresql import Cluster, binaries

# Property tests check properties, not speed: an example that takes longer than Hypothesis's default
# 200 ms deadline on a loaded machine (the suite shares two cores) must not fail the test.
settings.register_profile("offthewire", deadline=None)
settings.load_profile("offthewire")

# Without PostgreSQL's server installed its half of the engine tests is skipped, unless
# OFFTHEWIRE_REQUIRE_POSTGRESQL=1 (CI sets it), which makes its absence a failure.
POSTGRESQL_REQUIRED = os.environ.get("OFFTHEWIRE_REQUIRE_POSTGRESQL") == "1"


@pytest.fixture(scope="session")
def postgresql() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the whole run."""
    bin_dir = binaries()
    if bin_dir is None:
        reason = "PostgreSQL's server (initdb, pg_ctl) is not installed"
        if POSTGRESQL_REQUIRED:
            pytest.fail(f"{reason}, and OFFTHEWIRE_REQUIRE_POSTGRESQL=1 requires it")
        pytest.skip(reason)
    cluster = Cluster(bin_dir)
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a store lives: a SQLite file, or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "t.db"
    cluster: Cluster = request.getfixturevalue("postgresql")
    return cluster.fresh_database()


@pytest.fixture
def new_database(
    database: Path | str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], Path | str]:
    """More empty databases on `database`'s engine, one a call: for a test that compares two
    installations, or needs a database of its own for each Hypothesis example."""
    if isinstance(database, Path):
        return lambda: tmp_path_factory.mktemp("database") / "t.db"
    cluster: Cluster = request.getfixturevalue("postgresql")
    return cluster.fresh_database


def storage_settings(database: Path | str) -> StorageSettings:
    """`[storage]` for a store at `database` (a `database` fixture's): the SQLite file, or the URL."""
    return StorageSettings(path=database) if isinstance(database, Path) else StorageSettings(url=database)


# Generous for one CLI run on a slow machine; a hang still ends the test instead of the suite.
RUN_TIMEOUT = 60

# (guid, title, link, date) or (guid, title, link, date, summary_html); None leaves the element out.
FeedEntry = tuple[Any, ...]

DEFAULT_TOPICS: list[dict[str, Any]] = [
    {"slug": "sports", "title": "Sports", "keywords": ["marathon", "olympic"]},
    {"slug": "energy", "title": "Energy", "keywords": ["oil", "crude"]},
    {"slug": "weather", "title": "Weather", "keywords": ["blizzard"]},
]


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def wait_until_after(moment: datetime, timeout: float = 5.0) -> None:
    """Wait until the wall clock's whole second is later than `moment` (about a second at most).

    The CLI stamps times in whole seconds and offers no way to set its clock: a test that needs a
    run to stamp a later time than an earlier run did waits for the second to turn first.
    """
    deadline = time.monotonic() + timeout
    while now_utc() <= moment:
        assert time.monotonic() < deadline, f"the wall clock did not pass {moment} within {timeout:g} s"
        time.sleep(0.02)


def minutes_ago(minutes: float) -> datetime:
    return now_utc() - timedelta(minutes=minutes)


def iso(moment: datetime) -> str:
    """A time as the CLI's JSON writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _parts(entry: FeedEntry) -> tuple[str | None, str, str | None, datetime | None, str | None]:
    guid, title, link, date = entry[:4]
    summary = entry[4] if len(entry) > 4 else None
    return guid, title, link, date, summary


def rss(entries: Sequence[FeedEntry], title: str = "Test Feed", link: str = "https://feed.example/") -> bytes:
    """An RSS 2.0 document with one <item> per entry, in the order given."""
    items = []
    for entry in entries:
        guid, headline, href, date, summary = _parts(entry)
        lines = [f"    <title>{escape(headline)}</title>"]
        if href is not None:
            lines.append(f"    <link>{escape(href)}</link>")
        if guid is not None:
            lines.append(f'    <guid isPermaLink="false">{escape(guid)}</guid>')
        if date is not None:
            lines.append(f"    <pubDate>{format_datetime(date.astimezone(UTC), usegmt=True)}</pubDate>")
        if summary is not None:
            lines.append(f"    <description>{escape(summary)}</description>")
        items.append("  <item>\n" + "\n".join(lines) + "\n  </item>")
    document = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n<channel>\n'
        f"  <title>{escape(title)}</title>\n  <link>{escape(link)}</link>\n"
        "  <description>A feed for tests</description>\n" + "\n".join(items) + "\n</channel>\n</rss>\n"
    )
    return document.encode("utf-8")


def atom(
    entries: Sequence[FeedEntry],
    title: str = "Test Feed",
    link: str = "https://feed.example/",
    feed_id: str = "urn:uuid:5b8c2f52-7d8e-4a0e-9a55-3f1d7f0d5e11",
) -> bytes:
    """An Atom 1.0 document with one <entry> per entry, in the order given."""
    dates = [_parts(e)[3] for e in entries if _parts(e)[3] is not None]
    feed_updated = max(dates, default=datetime(2020, 1, 1, tzinfo=UTC))
    blocks = []
    for entry in entries:
        guid, headline, href, date, summary = _parts(entry)
        lines = [f"    <title>{escape(headline)}</title>"]
        if guid is not None:
            lines.append(f"    <id>{escape(guid)}</id>")
        if href is not None:
            lines.append(f'    <link rel="alternate" href={quoteattr(href)}/>')
        if date is not None:
            lines.append(f"    <updated>{iso(date)}</updated>")
            lines.append(f"    <published>{iso(date)}</published>")
        if summary is not None:
            lines.append(f'    <summary type="html">{escape(summary)}</summary>')
        blocks.append("  <entry>\n" + "\n".join(lines) + "\n  </entry>")
    document = (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"  <title>{escape(title)}</title>\n  <id>{escape(feed_id)}</id>\n"
        f'  <link rel="alternate" href={quoteattr(link)}/>\n  <updated>{iso(feed_updated)}</updated>\n'
        "  <author><name>Test Desk</name></author>\n" + "\n".join(blocks) + "\n</feed>\n"
    )
    return document.encode("utf-8")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


# Set for the session by `_quick_cli_start`: what makes a CLI run start in half the time.
_START_ENV: dict[str, str] = {}


def cli_env() -> dict[str, str]:
    """The environment every CLI run gets: TZ=UTC, no proxy for loopback, no config from outside."""
    env = {k: v for k, v in os.environ.items() if k not in ("OFFTHEWIRE_CONFIG", "OFFTHEWIRE_DATABASE_URL")}
    env.update({"TZ": "UTC", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    if _START_ENV:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(_START_ENV)
    return env


@pytest.fixture(scope="session", autouse=True)
def _quick_cli_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each test runs the CLI several times, and most of a run is Python importing its libraries.

    Compiled modules are cached in a folder of this session (never beside the sources), and the
    system's CA bundle is not loaded at import: every URL the tests fetch is http on 127.0.0.1.
    """
    folder = tmp_path_factory.mktemp("cli-start")
    no_certificates = folder / "no-ca-certificates.pem"
    no_certificates.write_text("", encoding="ascii")
    _START_ENV.update({"PYTHONPYCACHEPREFIX": str(folder / "pycache"), "SSL_CERT_FILE": str(no_certificates)})
    yield
    _START_ENV.clear()


class Wire:
    """One offthewire installation in a folder, driven through the real CLI."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = folder / "offthewire.toml"
        self.db_path = folder / "offthewire.db"
        self.public = folder / "public"
        self.base_url = "http://wire.example.test/news/"
        self.configure()

    def configure(
        self,
        output: dict[str, Any] | None = None,
        poll: dict[str, Any] | None = None,
        topics: list[dict[str, Any]] | None = None,
    ) -> None:
        """(Re)write the config file: the defaults below, overridden key by key."""
        sections = {
            "storage": {"path": self.db_path.name},
            "output": {"dir": self.public.name, "base_url": self.base_url, "title": "Test Wire", **(output or {})},
            "poll": {"timeout": 2, **(poll or {})},
        }
        lines = []
        for name, values in sections.items():
            lines.append(f"[{name}]")
            lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
            lines.append("")
        for topic in DEFAULT_TOPICS if topics is None else topics:
            lines.append("[[topics]]")
            lines += [f"{key} = {_toml_value(value)}" for key, value in topic.items()]
            lines.append("")
        self.config.write_text("\n".join(lines), encoding="utf-8")

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "aggregator", "--config", str(self.config), *args]

    def run(self, *args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run the CLI once; never raises for a non-zero exit (tests assert on returncode)."""
        return subprocess.run(
            self.command(*args),
            cwd=self.folder,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run_parallel(
        self, *commands: Sequence[str], timeout: float = RUN_TIMEOUT
    ) -> list[subprocess.CompletedProcess[str]]:
        """Run several independent commands at once (each a list of arguments); results in order."""
        processes = [
            subprocess.Popen(
                self.command(*args),
                cwd=self.folder,
                env=cli_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in commands
        ]
        results = []
        try:
            for args, process in zip(commands, processes, strict=True):
                out, err = process.communicate(timeout=timeout)
                results.append(subprocess.CompletedProcess(self.command(*args), process.returncode, out, err))
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.communicate(timeout=10)
        return results

    def ok(self, *args: str) -> str:
        """Run a command that must succeed; its stdout."""
        result = self.run(*args)
        assert result.returncode == 0, f"{args} exited {result.returncode}: {result.stderr}"
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def add(self, url: str, *options: str) -> int:
        """Subscribe through the CLI; the id it printed."""
        return printed_id(self.ok("add", url, *options))

    def add_many(self, *urls: str) -> list[int]:
        """Subscribe to several URLs: the first alone (it creates the database), the rest at once."""
        ids = [self.add(urls[0])] if urls else []
        results = self.run_parallel(*(["add", url] for url in urls[1:]))
        for url, result in zip(urls[1:], results, strict=True):
            assert result.returncode == 0, f"add {url} exited {result.returncode}: {result.stderr}"
            ids.append(printed_id(result.stdout))
        return ids

    def sources(self) -> dict[str, dict[str, Any]]:
        """`list --json`, keyed by URL."""
        return {source["url"]: source for source in self.json("list")}

    def items(self, *args: str) -> list[dict[str, Any]]:
        return list(self.json("items", "--limit", "1000", *args))

    def feed_file(self, slug: str | None = None) -> Path:
        return self.public / ("off-the-wire.atom" if slug is None else f"topics/{slug}.atom")


def printed_id(stdout: str) -> int:
    """The source id `add` printed: the first number outside the URL it echoes."""
    match = re.search(r"\b(\d+)\b", re.sub(r"https?://\S+", "", stdout))
    assert match, f"add printed no id: {stdout!r}"
    return int(match.group(1))


def poll_counts(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    """The numbers in a poll's summary line: polled, new, updated, not modified, failed."""
    assert result.returncode == 0, f"poll exited {result.returncode}: {result.stderr}"
    pattern = r"Polled (\d+) sources?: (\d+) new, (\d+) updated, (\d+) not modified, (\d+) failed"
    match = re.search(pattern, result.stdout)
    assert match, f"no poll summary in {result.stdout!r} (stderr: {result.stderr!r})"
    polled, new, updated, not_modified, failed = (int(n) for n in match.groups())
    return {"polled": polled, "new": new, "updated": updated, "not_modified": not_modified, "failed": failed}


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def wire(tmp_path: Path) -> Wire:
    return Wire(tmp_path)
