"""`offthewire migrate --to URL` through the real CLI: the sample wire polled into SQLite by `demo
--once`, copied into a database of a throwaway PostgreSQL cluster, then read back through every
reading command and published again: the same items, stories, sources, search results and
byte-identical feeds. A copy into a database that is not empty, or from a database that does not
exist, is refused with one plain sentence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import RUN_TIMEOUT, cli_env

from tests.postgresql import Cluster


def offthewire(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "aggregator", "--config", str(config), *args]
    return subprocess.run(
        command, cwd=config.parent, env=cli_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample wire polled into SQLite once: the demo's config file."""
    folder = tmp_path_factory.mktemp("sample")
    demo = subprocess.run(
        [sys.executable, "-m", "aggregator", "demo", "--once", "--dir", str(folder / "demo")],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=True,
    )
    assert "Wrote" in demo.stdout
    return folder / "demo" / "offthewire.toml"


def postgresql_config(sqlite_config: Path, url: str) -> Path:
    """The same installation's config with the database at `url` and its own output folder."""
    text = sqlite_config.read_text(encoding="utf-8")
    text = text.replace("[storage]\n", f'[storage]\nurl = "{url}"\n', 1).replace('dir = "public"', 'dir = "public-pg"')
    config = sqlite_config.with_name("postgresql.toml")
    config.write_text(text, encoding="utf-8")
    return config


def test_migrate_copies_everything_and_the_outputs_are_the_same(sample: Path, postgresql: Cluster) -> None:
    url = postgresql.fresh_database()

    migrated = offthewire(sample, "migrate", "--to", url, "--json")

    assert migrated.returncode == 0, migrated.stderr
    counts = {row["table"]: (row["sqlite"], row["postgresql"]) for row in json.loads(migrated.stdout)}
    assert all(sqlite == copied for sqlite, copied in counts.values()), counts
    assert counts["items"][0] > 100 and counts["stories"][0] > 100 and counts["sources"][0] >= 10
    config = postgresql_config(sample, url)
    for command in (
        ["items", "--json", "--limit", "500"],
        ["stories", "--json", "--limit", "500"],
        ["list", "--json"],
        ["topics", "--json"],
        ["items", "--search", "election", "--json"],
    ):
        on_sqlite, on_postgresql = offthewire(sample, *command), offthewire(config, *command)
        assert on_postgresql.returncode == 0, on_postgresql.stderr
        assert json.loads(on_postgresql.stdout) == json.loads(on_sqlite.stdout), command
    assert json.loads(offthewire(sample, "items", "--search", "election", "--json").stdout)
    for folder_config in (sample, config):
        assert offthewire(folder_config, "publish").returncode == 0
    sqlite_feeds = {
        p.relative_to(sample.parent / "public"): p.read_bytes() for p in (sample.parent / "public").rglob("*.atom")
    }
    pg_feeds = {
        p.relative_to(sample.parent / "public-pg"): p.read_bytes()
        for p in (sample.parent / "public-pg").rglob("*.atom")
    }
    assert sqlite_feeds and pg_feeds == sqlite_feeds


def test_a_source_added_after_the_copy_takes_a_new_id(sample: Path, postgresql: Cluster) -> None:
    url = postgresql.fresh_database()
    assert offthewire(sample, "migrate", "--to", url).returncode == 0
    config = postgresql_config(sample, url)
    highest = max(source["id"] for source in json.loads(offthewire(config, "list", "--json").stdout))

    added = offthewire(config, "add", "https://new.example/feed.xml")

    assert added.returncode == 0, added.stderr
    assert int(added.stdout.split(":")[0].split()[-1]) > highest


def test_migrating_into_a_database_that_is_not_empty_is_refused(sample: Path, postgresql: Cluster) -> None:
    url = postgresql.fresh_database()
    assert offthewire(sample, "migrate", "--to", url).returncode == 0

    again = offthewire(sample, "migrate", "--to", url)

    assert again.returncode == 1
    assert "already holds" in again.stderr and "migrate into an empty database" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_migrate_needs_a_postgresql_url_and_an_existing_sqlite_file(tmp_path: Path, postgresql: Cluster) -> None:
    config = tmp_path / "offthewire.toml"
    config.write_text('[storage]\npath = "missing.db"\n', encoding="utf-8")

    not_postgresql = offthewire(config, "migrate", "--to", "mysql://somewhere/db")
    missing = offthewire(config, "migrate", "--to", postgresql.fresh_database())

    assert not_postgresql.returncode == 2
    assert "--to must be a postgresql:// URL" in not_postgresql.stderr
    assert missing.returncode == 1
    assert f"There is no SQLite database at {tmp_path / 'missing.db'} to migrate." in missing.stderr
    assert not (tmp_path / "missing.db").exists()
