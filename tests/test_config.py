"""config: defaults, a full file, relative paths, and errors that name the file and the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aggregator.config import Settings, find_config_file, listen_address, load_settings
from aggregator.exceptions import ConfigError
from aggregator.types import Topic

FULL = """
[storage]
path = "data/wire.db"

[output]
dir = "site"
base_url = "https://news.example.org/wire"
title = "Harbour wire"
limit = 50

[poll]
every = 10
concurrency = 8
per_host = 2
timeout = 12
max_bytes = 2000000
max_entries = 250
floor = 2
cap = 720
jitter = 0.25
tick = 10

[server]
listen = "0.0.0.0:9090"

[dedupe]
window_hours = 48

[retention]
days = 14

[[topics]]
slug = "sports"
title = "Sport"
keywords = ["olympic", " world cup "]

[[topics]]
slug = "china-asia"
keywords = ["台风"]
"""


def write_config(folder: Path, text: str, name: str = "offthewire.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> str:
    """The message of the ConfigError that loading `text` raises."""
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


def test_defaults_without_a_file() -> None:
    settings = load_settings(None)
    assert settings == Settings()
    assert settings.storage.path == Path("offthewire.db")
    assert settings.output.dir == Path("public")
    assert settings.output.base_url == "http://127.0.0.1:8080/"
    assert settings.output.title == "Off the wire"
    assert settings.output.limit == 100
    assert (settings.poll.every, settings.poll.concurrency, settings.poll.per_host) == (15, 32, 4)
    assert settings.poll.timeout == 20.0
    assert settings.poll.max_bytes == 10_000_000
    assert settings.poll.max_entries == 1000
    assert (settings.poll.floor, settings.poll.cap, settings.poll.jitter, settings.poll.tick) == (
        1.0,
        1440.0,
        0.1,
        30.0,
    )
    assert settings.server.listen == "127.0.0.1:8080"
    assert settings.dedupe.window_hours == 72.0
    assert settings.retention.days == 30
    assert settings.topics == ()
    assert settings.source_file is None


def test_full_file_is_read_with_right_types(tmp_path: Path) -> None:
    path = write_config(tmp_path, FULL)
    settings = load_settings(path)
    assert settings.source_file == path
    assert settings.output.title == "Harbour wire"
    assert settings.output.limit == 50
    assert settings.poll.every == 10
    assert settings.poll.concurrency == 8
    assert settings.poll.per_host == 2
    assert settings.poll.timeout == 12.0
    assert isinstance(settings.poll.timeout, float)
    assert settings.poll.max_bytes == 2_000_000
    assert settings.poll.max_entries == 250
    assert (settings.poll.floor, settings.poll.cap, settings.poll.jitter, settings.poll.tick) == (
        2.0,
        720.0,
        0.25,
        10.0,
    )
    assert all(isinstance(value, float) for value in (settings.poll.floor, settings.poll.cap, settings.poll.tick))
    assert settings.server.listen == "0.0.0.0:9090"
    assert listen_address(settings) == ("0.0.0.0", 9090)
    assert settings.dedupe.window_hours == 48.0
    assert isinstance(settings.dedupe.window_hours, float)
    assert settings.retention.days == 14
    assert settings.topics == (
        Topic(slug="sports", title="Sport", keywords=("olympic", "world cup")),
        Topic(slug="china-asia", title="China Asia", keywords=("台风",)),
    )


def test_relative_paths_are_resolved_against_the_config_folder(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, FULL))
    assert settings.storage.path == tmp_path / "data" / "wire.db"
    assert settings.output.dir == tmp_path / "site"


def test_default_paths_in_a_file_are_beside_the_file(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, "[poll]\nevery = 5\n"))
    assert settings.storage.path == tmp_path / "offthewire.db"
    assert settings.output.dir == tmp_path / "public"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    text = f'[storage]\npath = "{elsewhere / "w.db"}"\n[output]\ndir = "{elsewhere / "out"}"\n'
    settings = load_settings(write_config(tmp_path, text))
    assert settings.storage.path == elsewhere / "w.db"
    assert settings.output.dir == elsewhere / "out"


def test_base_url_gets_a_trailing_slash(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, FULL))
    assert settings.output.base_url == "https://news.example.org/wire/"


def test_base_url_with_trailing_slash_is_unchanged(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, '[output]\nbase_url = "http://example.org/"\n'))
    assert settings.output.base_url == "http://example.org/"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[nope]\nx = 1\n", "[nope]"),
        ("[poll]\nfrequency = 5\n", "frequency"),
        ('[poll]\ntimeout = "20"\n', "timeout"),
        ("[poll]\nevery = -5\n", "every"),
        ("[retention]\ndays = 0\n", "days"),
        ("[dedupe]\nwindow_hours = 0\n", "window_hours"),
        ("[poll]\nevery = 1.5\n", "every"),
        ("[poll]\nevery = 100000000000\n", "every"),
        ("[poll]\ncap = 1e300\n", "cap"),
        ("[dedupe]\nwindow_hours = 1e12\n", "window_hours"),
        ("[retention]\ndays = 99999999\n", "days"),
        ("[poll]\nmax_entries = 0\n", "max_entries"),
        ("[output]\nlimit = true\n", "limit"),
        ("[poll]\nconcurrency = false\n", "concurrency"),
        ("[poll]\njitter = 1\n", "jitter"),
        ("[poll]\ntick = 0\n", "tick"),
        ("[poll]\nfloor = 30\ncap = 10\n", "floor"),
        ('[output]\nbase_url = "ftp://example.org/"\n', "base_url"),
        ('[output]\nbase_url = "not a url"\n', "base_url"),
        ('[server]\nlisten = "localhost"\n', "listen"),
        ('[server]\nlisten = "127.0.0.1:99999"\n', "listen"),
        ('[output]\ntitle = ""\n', "title"),
        ("poll = 5\n", "[poll]"),
        ('[[topics]]\nslug = "Sports!"\n', "slug"),
        ('[[topics]]\nslug = "sports"\n[[topics]]\nslug = "sports"\n', "sports"),
        ('[[topics]]\nslug = "sports"\nkeywords = "olympic"\n', "keywords"),
        ('[[topics]]\nslug = "sports"\nkeywords = ["olympic", ""]\n', "keywords"),
        ('[[topics]]\nslug = "sports"\ncolour = "red"\n', "colour"),
        ('[topics]\nslug = "sports"\n', "topics"),
    ],
    ids=[
        "unknown-section",
        "unknown-key",
        "string-for-number",
        "negative",
        "zero-int",
        "zero-float",
        "float-for-int",
        "every-past-a-century",
        "cap-past-a-century",
        "window-past-a-century",
        "retention-past-a-century",
        "zero-max-entries",
        "bool-for-int",
        "bool-false-for-int",
        "jitter-not-a-fraction",
        "zero-tick",
        "floor-above-cap",
        "ftp-base-url",
        "not-a-url-base-url",
        "listen-without-port",
        "listen-port-out-of-range",
        "empty-title",
        "section-not-a-table",
        "bad-slug",
        "duplicate-slug",
        "keywords-not-a-list",
        "empty-keyword",
        "unknown-topic-key",
        "topics-not-an-array",
    ],
)
def test_bad_value_is_an_error_naming_file_and_key(tmp_path: Path, text: str, named: str) -> None:
    message = config_error(tmp_path, text)
    path = str(tmp_path / "offthewire.toml")
    assert path in message
    assert named in message.replace(path, "")


def test_duplicate_slug_names_the_second_table(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[[topics]]\nslug = "a"\n[[topics]]\nslug = "b"\n[[topics]]\nslug = "a"\n')
    assert "number 3" in message


def test_invalid_toml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    message = config_error(tmp_path, "[poll\nevery = 5\n")
    assert str(tmp_path / "offthewire.toml") in message
    assert "TOML" in message


def test_missing_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match=r"nowhere\.toml"):
        load_settings(path)


# --- find_config_file ------------------------------------------------------------------------


def test_find_config_file_prefers_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, "")
    found = find_config_file("given.toml", {"OFFTHEWIRE_CONFIG": "from-env.toml"})
    assert found == Path("given.toml")


def test_find_config_file_uses_environment_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, "")
    assert find_config_file(None, {"OFFTHEWIRE_CONFIG": "from-env.toml"}) == Path("from-env.toml")


def test_find_config_file_ignores_empty_environment_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config_file(None, {"OFFTHEWIRE_CONFIG": ""}) is None


def test_find_config_file_uses_local_file_when_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, "")
    found = find_config_file(None, {})
    assert found is not None
    assert found.resolve() == tmp_path.resolve() / "offthewire.toml"


def test_find_config_file_is_none_without_any(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config_file(None, {}) is None


def test_find_config_file_reads_the_real_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OFFTHEWIRE_CONFIG", str(tmp_path / "env.toml"))
    assert find_config_file(None, os.environ) == tmp_path / "env.toml"


def test_topic_rules_of_the_second_version_are_read(tmp_path: Path) -> None:
    path = tmp_path / "offthewire.toml"
    path.write_text(
        """
[topic_rules]
exclude = ["sponsored"]

[[topics]]
slug = "motorsport"
patterns = ["\\\\bF1\\\\b"]
exclude = ["esports"]
sources = ["https://motor.example/feed.xml"]
categories = ["Motor Racing"]
languages = ["en"]
""",
        encoding="utf-8",
    )
    settings = load_settings(path)
    topic = settings.topics[0]
    assert settings.global_exclude == ("sponsored",)
    assert (topic.patterns, topic.exclude, topic.sources, topic.categories, topic.languages) == (
        ("\\bF1\\b",),
        ("esports",),
        ("https://motor.example/feed.xml",),
        ("Motor Racing",),
        ("en",),
    )


def test_invalid_topic_pattern_names_the_topic_and_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "offthewire.toml"
    path.write_text('[[topics]]\nslug = "motorsport"\npatterns = ["ok", "(unclosed"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    message = str(error.value)
    assert str(path) in message
    assert "[[topics]] motorsport: patterns[1] '(unclosed' is not a valid regular expression" in message
