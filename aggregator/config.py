"""Configuration: a TOML file (every key optional) read into frozen, validated settings.

The file is `--config FILE`, else `$OFFTHEWIRE_CONFIG`, else `./offthewire.toml` when it exists,
else the built-in defaults. Relative paths in a file are relative to that file's folder.
Every error names the file and the key.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aggregator.exceptions import ConfigError
from aggregator.types import Topic

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class StorageSettings:
    path: Path = Path("offthewire.db")
    url: str | None = None  # postgresql://...: PostgreSQL instead of the SQLite file at `path`

    @property
    def target(self) -> Path | str:
        """What the store opens: the PostgreSQL URL when there is one, else the SQLite file."""
        return self.url or self.path

    @property
    def described(self) -> str:
        """The database as messages name it (a URL without its password)."""
        if self.url is None:
            return str(self.path)
        from aggregator.store.postgresql import redacted

        return redacted(self.url)


@dataclass(frozen=True)
class OutputSettings:
    dir: Path = Path("public")
    base_url: str = "http://127.0.0.1:8080/"
    title: str = "Off the wire"
    limit: int = 100
    archive_pages: int = 10
    hub: str | None = None


@dataclass(frozen=True)
class PollSettings:
    every: int = 15
    concurrency: int = 32
    per_host: int = 4
    timeout: float = 20.0
    max_bytes: int = 10_000_000
    max_entries: int = 1000
    floor: float = 1.0
    cap: float = 1440.0
    jitter: float = 0.1
    tick: float = 30.0
    block_private: bool = False


@dataclass(frozen=True)
class ServerSettings:
    listen: str = "127.0.0.1:8080"


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"


@dataclass(frozen=True)
class DedupeSettings:
    window_hours: float = 72.0
    republish_updates: bool = True
    max_revisions: int = 3


@dataclass(frozen=True)
class RetentionSettings:
    days: int = 30
    keep_per_source: int = 50


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the file it came from (None for built-in defaults)."""

    storage: StorageSettings = field(default_factory=StorageSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    poll: PollSettings = field(default_factory=PollSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    dedupe: DedupeSettings = field(default_factory=DedupeSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    log: LogSettings = field(default_factory=LogSettings)
    topics: tuple[Topic, ...] = ()
    global_exclude: tuple[str, ...] = ()
    source_file: Path | None = None


# section -> key -> (type check, description used in error messages)
_POSITIVE_INT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0, "a positive whole number")
_POSITIVE_NUMBER = (
    lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v > 0,
    "a positive number",
)


# Time settings are bounded so that no arithmetic on dates can overflow (a century of minutes is
# far from datetime's limits, and from any interval that makes sense).
def _at_most(limit: int, unit: str, whole: bool = False) -> tuple[Any, str]:
    check: Callable[[Any], bool]
    check, kind = _POSITIVE_INT if whole else _POSITIVE_NUMBER
    return (lambda v: check(v) and v <= limit, f"{kind} of {unit}, at most {limit:,}")


_CENTURY_DAYS = 36_525
_MINUTES = _at_most(_CENTURY_DAYS * 24 * 60, "minutes")
_FRACTION = (lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1, "a number from 0 to 1")
LOG_LEVELS = ("debug", "info", "warning", "error")
_LOG_LEVEL = (lambda v: isinstance(v, str) and v.lower() in LOG_LEVELS, "one of " + ", ".join(LOG_LEVELS))
_BOOL = (lambda v: isinstance(v, bool), "true or false")
_STRING_LIST = (
    lambda v: isinstance(v, list) and all(isinstance(i, str) and i.strip() for i in v),
    "a list of non-empty strings",
)
_TEXT = (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string")
_HTTP_URL = (lambda v: isinstance(v, str) and _is_http_url(v), "an http(s) URL")
_COUNT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a whole number, 0 or more")
_POSTGRESQL_URL = (
    lambda v: isinstance(v, str) and v.startswith(("postgresql://", "postgres://")),
    "a postgresql:// URL",
)
_LISTEN = (lambda v: isinstance(v, str) and _parse_listen(v) is not None, 'a "host:port" address')

_SCHEMA: dict[str, dict[str, tuple[Any, str]]] = {
    "storage": {"path": _TEXT, "url": _POSTGRESQL_URL},
    "output": {
        "dir": _TEXT,
        "base_url": _HTTP_URL,
        "title": _TEXT,
        "limit": _POSITIVE_INT,
        "archive_pages": _COUNT,
        "hub": _HTTP_URL,
    },
    "poll": {
        "every": _at_most(_CENTURY_DAYS * 24 * 60, "minutes", whole=True),
        "concurrency": _POSITIVE_INT,
        "per_host": _POSITIVE_INT,
        "timeout": _POSITIVE_NUMBER,
        "max_bytes": _POSITIVE_INT,
        "max_entries": _POSITIVE_INT,
        "floor": _MINUTES,
        "cap": _MINUTES,
        "jitter": _FRACTION,
        "tick": _at_most(86_400, "seconds"),
        "block_private": _BOOL,
    },
    "server": {"listen": _LISTEN},
    "dedupe": {
        "window_hours": _at_most(_CENTURY_DAYS * 24, "hours"),
        "republish_updates": _BOOL,
        "max_revisions": _POSITIVE_INT,
    },
    "retention": {"days": _at_most(_CENTURY_DAYS, "days", whole=True), "keep_per_source": _POSITIVE_INT},
    "log": {"level": _LOG_LEVEL},
    "topic_rules": {"exclude": _STRING_LIST},
}
_TOPIC_KEYS = {"slug", "title", "keywords", "patterns", "exclude", "sources", "categories", "languages"}


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _parse_listen(value: str) -> tuple[str, int] | None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def listen_address(settings: Settings) -> tuple[str, int]:
    """The server's (host, port), already validated."""
    address = _parse_listen(settings.server.listen)
    assert address is not None
    return address


def find_config_file(explicit: str | None, environ: dict[str, str] | os._Environ[str]) -> Path | None:
    """The config file to read: explicit, else $OFFTHEWIRE_CONFIG, else ./offthewire.toml if present."""
    if explicit:
        return Path(explicit)
    if environ.get("OFFTHEWIRE_CONFIG"):
        return Path(environ["OFFTHEWIRE_CONFIG"])
    default = Path("offthewire.toml")
    return default if default.is_file() else None


def with_database_url(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """The settings with `$OFFTHEWIRE_DATABASE_URL`, when set, as `[storage] url`."""
    url = environ.get("OFFTHEWIRE_DATABASE_URL", "").strip()
    if not url:
        return settings
    if not _POSTGRESQL_URL[0](url):
        raise ConfigError(f"OFFTHEWIRE_DATABASE_URL must be a postgresql:// URL, not {url!r}.")
    return dataclasses.replace(settings, storage=dataclasses.replace(settings.storage, url=url))


def load_settings(path: Path | None) -> Settings:
    """Read and validate the config file at `path` (None: built-in defaults)."""
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} cannot be read: {exc}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}.") from exc
    return settings_from_dict(data, path)


def settings_from_dict(data: dict[str, Any], path: Path) -> Settings:
    """Validate parsed TOML; relative paths are taken relative to the file's folder."""
    sections: dict[str, dict[str, Any]] = {}
    for name, value in data.items():
        if name == "topics":
            continue
        if name not in _SCHEMA:
            raise ConfigError(f"{path}: unknown section [{name}].")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: [{name}] must be a table.")
        for key, item in value.items():
            if key not in _SCHEMA[name]:
                raise ConfigError(f"{path}: unknown key {key!r} in [{name}].")
            check, description = _SCHEMA[name][key]
            if not check(item):
                raise ConfigError(f"{path}: [{name}] {key} must be {description}, not {item!r}.")
        sections[name] = value

    folder = path.parent
    storage = sections.get("storage", {})
    output = dict(sections.get("output", {}))
    if "base_url" in output and not output["base_url"].endswith("/"):
        output["base_url"] += "/"
    poll = dict(sections.get("poll", {}))
    poll = {k: float(v) if k in ("timeout", "floor", "cap", "jitter", "tick") else v for k, v in poll.items()}
    if poll.get("floor", PollSettings.floor) > poll.get("cap", PollSettings.cap):
        raise ConfigError(f"{path}: [poll] floor must not be larger than [poll] cap.")
    dedupe: dict[str, Any] = {k: float(v) if k == "window_hours" else v for k, v in sections.get("dedupe", {}).items()}
    return Settings(
        storage=StorageSettings(path=folder / storage.get("path", "offthewire.db"), url=storage.get("url")),
        output=OutputSettings(**{**output, "dir": folder / output.get("dir", "public")}),
        poll=PollSettings(**poll),
        server=ServerSettings(**sections.get("server", {})),
        dedupe=DedupeSettings(**dedupe),
        retention=RetentionSettings(**sections.get("retention", {})),
        log=LogSettings(**{k: v.lower() for k, v in sections.get("log", {}).items()}),
        topics=_topics_from(data.get("topics", []), path),
        global_exclude=tuple(t.strip() for t in sections.get("topic_rules", {}).get("exclude", [])),
        source_file=path,
    )


def _topics_from(raw: Any, path: Path) -> tuple[Topic, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: topics must be written as [[topics]] tables.")
    topics: list[Topic] = []
    seen: set[str] = set()
    for number, table in enumerate(raw, start=1):
        where = f"{path}: [[topics]] number {number}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table.")
        unknown = set(table) - _TOPIC_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}.")
        slug = table.get("slug")
        if not isinstance(slug, str) or not SLUG_PATTERN.match(slug):
            raise ConfigError(f"{where}: slug must be lower-case letters, digits and dashes, not {slug!r}.")
        if slug in seen:
            raise ConfigError(f"{where}: slug {slug!r} is defined twice.")
        seen.add(slug)
        where = f"{path}: [[topics]] {slug}"
        title = table.get("title", slug.replace("-", " ").title())
        if not isinstance(title, str) or not title.strip():
            raise ConfigError(f"{where}: title must be a non-empty string.")
        lists = {key: _string_list(table, key, where) for key in _TOPIC_KEYS - {"slug", "title"}}
        for index, pattern in enumerate(lists["patterns"]):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(
                    f"{where}: patterns[{index}] {pattern!r} is not a valid regular expression: {exc}."
                ) from exc
        topics.append(Topic(slug=slug, title=title, **lists))
    return tuple(topics)


def _string_list(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = table.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ConfigError(f"{where}: {key} must be a list of non-empty strings.")
    return tuple(v.strip() for v in values)
