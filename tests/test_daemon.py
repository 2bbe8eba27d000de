"""Integration tests of `offthewire run`: the real daemon as a subprocess over real loopback servers.

Each test starts its own daemon on a free port with a 0.5 s tick and no jitter, and stops it in a
`with` block (SIGTERM, then SIGKILL), so no process outlives its test. Every wait is bounded.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from datetime import timedelta
from typing import Any

from conftest import Wire, atom, http_date, now_utc, parse_iso
from daemon_helpers import (
    STOP_LIMIT,
    Answer,
    HeaderServer,
    RunningDaemon,
    atom_entry_titles,
    atom_title,
    configure,
    daemon_env,
    free_port,
    wait_for,
)
from feedserver import FeedServer

ATOM_TYPE = "application/atom+xml; charset=utf-8"
MERGED = "/feeds/off-the-wire.atom"


def recent(prefix: str, count: int = 3, gap_seconds: int = 10) -> list[tuple[Any, ...]]:
    """`count` entries published `gap_seconds` apart in the last minutes (a busy wire: its publishing
    rate alone asks for a poll every few seconds, so the floor decides)."""
    now = now_utc()
    return [
        (
            f"urn:{prefix}:{n}",
            f"{prefix.title()} desk files report number {n} on harbour traffic",
            f"https://{prefix}.example/news/{n}",
            now - timedelta(seconds=gap_seconds * (count - n)),
        )
        for n in range(count)
    ]


def headlines(entries: list[tuple[Any, ...]]) -> set[str]:
    return {entry[1] for entry in entries}


def served_titles(daemon: RunningDaemon) -> set[str]:
    response = daemon.get(MERGED)
    assert response.status == 200, response.status
    return set(atom_entry_titles(response.body))


def _start_alpha(wire: Wire, feed_server: FeedServer) -> tuple[int, str, list[tuple[Any, ...]]]:
    """A config whose sources are polled at most 1.2 s apart, and one source with validators."""
    port = free_port()
    configure(wire, port, poll={"cap": 0.02})
    entries = recent("alpha")
    url = feed_server.serve(
        "/alpha.xml",
        atom(entries, title="Alpha Wire"),
        content_type=ATOM_TYPE,
        etag='"alpha-1"',
        last_modified=http_date(now_utc()),
    )
    wire.add(url)
    return port, url, entries


def test_daemon_polls_on_schedule_and_stops_on_sigterm(wire: Wire, feed_server: FeedServer) -> None:
    port, alpha, alpha_entries = _start_alpha(wire, feed_server)

    with RunningDaemon(wire, port) as daemon:
        health = daemon.wait_ready()
        assert health["status"] == "ok"
        assert health["scheduler"]["alive"] is True
        assert health["database"]["ok"] is True

        # Polled on schedule: nobody runs `poll`.
        wait_for(lambda: feed_server.requests_for("/alpha.xml"), 10, "the first poll of alpha")
        daemon.wait_ticks(1)
        assert {i["title"] for i in wire.items()} == headlines(alpha_entries)
        assert wait_for(lambda: served_titles(daemon) == headlines(alpha_entries), 5, "alpha in the merged feed")

        # The next tick that finds it due sends the validators back and gets a 304.
        wait_for(lambda: len(feed_server.requests_for("/alpha.xml")) >= 2, 10, "a second poll of alpha")
        second = feed_server.requests_for("/alpha.xml")[1]
        assert second.header("If-None-Match") == '"alpha-1"'
        assert second.status == 304
        daemon.wait_ticks(1)
        assert wire.sources()[alpha]["last_status"] == 304

        code = daemon.stop(signal.SIGTERM)
        print(f"\nSIGTERM -> exit {code} in {daemon.stop_seconds:.2f} s")
        assert code == 0, daemon.log()
        assert daemon.stop_seconds is not None and daemon.stop_seconds < STOP_LIMIT
        assert "Traceback" not in daemon.log()


def test_sources_added_and_removed_with_the_cli_while_running(wire: Wire, feed_server: FeedServer) -> None:
    port, _, alpha_entries = _start_alpha(wire, feed_server)

    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        wait_for(lambda: served_titles(daemon) == headlines(alpha_entries), 10, "alpha in the merged feed")

        # A source added with the CLI while the daemon runs is polled within a few ticks.
        beta_entries = recent("beta")
        beta = feed_server.serve("/beta.xml", atom(beta_entries, title="Beta Wire"), content_type=ATOM_TYPE)
        beta_id = wire.add(beta)
        added = time.monotonic()
        wait_for(lambda: feed_server.requests_for("/beta.xml"), 5, "the daemon to poll the added source")
        latency = time.monotonic() - added
        print(f"\nadded source first polled {latency:.2f} s after `add` returned (tick 0.5 s)")
        assert latency < 4.0
        wait_for(
            lambda: headlines(beta_entries) <= served_titles(daemon), 5, "the added source's items in the merged feed"
        )
        assert {i["title"] for i in wire.items("--source", str(beta_id))} == headlines(beta_entries)

        # A source removed with the CLI leaves the merged feed (served and on disk) at the next publish,
        # though no poll brings anything new.
        wire.ok("remove", str(beta_id))
        wait_for(
            lambda: not headlines(beta_entries) & served_titles(daemon),
            5,
            "the removed source's items to leave the served merged feed",
        )
        assert not headlines(beta_entries) & set(atom_entry_titles(wire.feed_file().read_bytes()))
        assert headlines(alpha_entries) <= served_titles(daemon)


def test_sigint_also_stops_the_daemon_cleanly(wire: Wire, feed_server: FeedServer) -> None:
    port = free_port()
    configure(wire, port)
    wire.add(feed_server.serve("/one.xml", atom(recent("one")), content_type=ATOM_TYPE))
    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        code = daemon.stop(signal.SIGINT)
        assert code == 0, daemon.log()
        assert "Traceback" not in daemon.log()


def test_sigterm_while_a_fetch_hangs_still_exits_in_time(wire: Wire) -> None:
    port = free_port()
    configure(wire, port, poll={"timeout": 60})  # the fetch's own deadline is far away
    with HeaderServer() as slow:
        url = slow.serve("/slow.xml", Answer(200, atom(recent("slow")), {"Content-Type": ATOM_TYPE}, delay=30))
        wire.add(url)
        with RunningDaemon(wire, port) as daemon:
            daemon.wait_ready()
            wait_for(lambda: slow.requests_for("/slow.xml"), 10, "the fetch of the slow source to start")
            health = daemon.get("/healthz")
            assert health.status == 200, "the web service must answer while a tick hangs"
            code = daemon.stop(signal.SIGTERM)
            print(f"\nSIGTERM with a fetch hanging on a 30 s server -> exit {code} in {daemon.stop_seconds:.2f} s")
            assert code == 0, daemon.log()
            assert daemon.stop_seconds is not None and daemon.stop_seconds < STOP_LIMIT
            assert "Traceback" not in daemon.log()


def test_sighup_reloads_the_config_and_keeps_the_old_one_when_the_new_is_broken(
    wire: Wire, feed_server: FeedServer
) -> None:
    port = free_port()
    configure(wire, port, output={"title": "Test Wire"})
    entries = recent("reload")
    wire.add(feed_server.serve("/reload.xml", atom(entries), content_type=ATOM_TYPE))

    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        wait_for(lambda: headlines(entries) <= served_titles(daemon), 10, "the first poll to be published")
        assert atom_title(daemon.get(MERGED).body) == "Test Wire"

        configure(wire, port, output={"title": "Renamed Wire"})
        daemon.send(signal.SIGHUP)
        wait_for(lambda: atom_title(daemon.get(MERGED).body) == "Renamed Wire", 10, "the new title in the feed")
        assert atom_title(wire.feed_file().read_bytes()) == "Renamed Wire"
        assert daemon.alive()

        text = wire.config.read_text(encoding="utf-8")
        assert "tick = 0.5" in text
        wire.config.write_text(text.replace("tick = 0.5", 'tick = "fast"'), encoding="utf-8")
        daemon.send(signal.SIGHUP)
        line = wait_for(
            lambda: next((ln for ln in daemon.log().splitlines() if "not reloaded" in ln), None),
            10,
            "the daemon to log that the broken config was not loaded",
        )
        assert line.startswith("ERROR"), line
        assert "[poll] tick" in line and str(wire.config) in line, line
        assert "Traceback" not in daemon.log()

        # Still alive, still ticking, still serving with the config it had.
        daemon.wait_ticks(2)
        assert daemon.alive()
        response = daemon.get(MERGED)
        assert response.status == 200
        assert atom_title(response.body) == "Renamed Wire"
        assert daemon.stop() == 0, daemon.log()


def test_a_gone_source_is_disabled_with_the_reason(wire: Wire, feed_server: FeedServer) -> None:
    port = free_port()
    configure(wire, port, poll={"cap": 0.02})
    gone = feed_server.serve("/gone.xml", b"gone\n", status=410, content_type="text/plain")
    source_id = wire.add(gone)

    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        wait_for(lambda: feed_server.requests_for("/gone.xml"), 10, "the poll of the gone source")
        daemon.wait_ticks(1)
        source = wire.sources()[gone]
        assert source["enabled"] is False
        assert source["last_status"] == 410
        assert "410" in (source["last_error"] or "")
        assert source["next_fetch_at"] is None
        assert "410" in wire.ok("explain", str(source_id))
        assert daemon.get("/healthz").json()["sources"]["disabled"] == 1

        # Not polled again, however many ticks pass (the cap would have asked for it within 1.2 s).
        daemon.wait_ticks(3)
        assert len(feed_server.requests_for("/gone.xml")) == 1


def test_a_permanent_redirect_moves_the_stored_url(wire: Wire, feed_server: FeedServer) -> None:
    port = free_port()
    configure(wire, port, poll={"cap": 0.02})
    entries = recent("moved")
    new = feed_server.serve("/new.xml", atom(entries), content_type=ATOM_TYPE)
    old = feed_server.redirect("/old.xml", "/new.xml", status=301)
    source_id = wire.add(old)

    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        wait_for(lambda: feed_server.requests_for("/new.xml"), 10, "the redirected poll")
        daemon.wait_ticks(1)
        sources = wire.sources()
        assert list(sources) == [new]
        assert sources[new]["id"] == source_id
        assert sources[new]["last_error"] is None
        assert {i["title"] for i in wire.items()} == headlines(entries)

        # The next polls go to the new URL directly.
        wait_for(lambda: len(feed_server.requests_for("/new.xml")) >= 2, 10, "a second poll of the moved source")
        assert len(feed_server.requests_for("/old.xml")) == 1

        # The old URL is kept as an alias: subscribing to it again is refused.
        again = wire.run("add", old)
        assert again.returncode == 1, again.stdout + again.stderr
        assert "already subscribed" in again.stderr


def test_429_retry_after_holds_every_source_on_the_host(wire: Wire) -> None:
    port = free_port()
    configure(wire, port, poll={"every": 1})
    with HeaderServer() as server:
        limited = server.serve(
            "/limited.xml", Answer(429, b"slow down\n", {"Retry-After": "120", "Content-Type": "text/plain"})
        )
        # A busy wire: on its own it would be polled again within seconds.
        other = server.serve("/other.xml", Answer(200, atom(recent("other")), {"Content-Type": ATOM_TYPE}))
        limited_id = wire.add(limited)
        other_id = wire.add(other)

        with RunningDaemon(wire, port) as daemon:
            daemon.wait_ready()
            wait_for(
                lambda: server.requests_for("/limited.xml") and server.requests_for("/other.xml"),
                10,
                "the first poll of both sources",
            )
            daemon.wait_ticks(1)
            polled = time.monotonic()
            sources = wire.sources()
            held = sources[limited]
            assert held["last_status"] == 429
            wait = parse_iso(held["next_fetch_at"]) - parse_iso(held["last_fetched_at"])
            assert wait >= timedelta(seconds=118), wait

            explained = wire.json("explain", str(limited_id))
            # The Retry-After was weighed (a tie with the first error's 2-minute backoff when [poll] every is 1).
            assert any(line.startswith("Retry-After: 2 min") for line in explained["considered"]), explained

            neighbour = sources[other]
            assert neighbour["last_status"] == 200
            assert parse_iso(neighbour["next_fetch_at"]) >= parse_iso(held["next_fetch_at"]), neighbour
            because = [line for line in wire.ok("explain", str(other_id)).splitlines() if "Because" in line]
            assert because and "429" in because[0], because

            # Several ticks later neither was asked again.
            daemon.wait_ticks(3)
            assert time.monotonic() - polled >= 1.0
            assert len(server.requests_for("/limited.xml")) == 1
            assert len(server.requests_for("/other.xml")) == 1


def test_a_failing_source_backs_off_and_recovers(wire: Wire, feed_server: FeedServer) -> None:
    port = free_port()
    configure(wire, port, poll={"every": 1})
    flaky = feed_server.serve("/flaky.xml", b"oops\n", status=500, content_type="text/plain")
    source_id = wire.add(flaky)

    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        wait_for(lambda: feed_server.requests_for("/flaky.xml"), 10, "the first poll of the failing source")
        daemon.wait_ticks(1)

        waits = []
        for failures in (1, 2, 3):
            if failures > 1:
                wire.ok("poll", str(source_id))  # force the next attempt instead of waiting minutes
            source = wire.sources()[flaky]
            assert source["error_count"] == failures, source
            assert source["last_status"] == 500
            assert "500" in (source["last_error"] or "")
            waits.append(parse_iso(source["next_fetch_at"]) - parse_iso(source["last_fetched_at"]))
        assert waits[0] < waits[1] < waits[2], waits
        assert "backing off after 3" in wire.json("explain", str(source_id))["reason"]
        assert len(feed_server.requests_for("/flaky.xml")) == 3, "the daemon must not poll a source backing off"

        entries = recent("flaky")
        feed_server.update("/flaky.xml", status=200, body=atom(entries), content_type=ATOM_TYPE)
        wire.ok("poll", str(source_id))
        source = wire.sources()[flaky]
        assert source["error_count"] == 0
        assert source["last_error"] is None
        assert source["last_status"] == 200
        assert parse_iso(source["next_fetch_at"]) - parse_iso(source["last_fetched_at"]) < waits[0]
        assert source["item_count"] == len(entries)
        wait_for(lambda: headlines(entries) <= served_titles(daemon), 5, "the recovered source in the served feed")
        assert daemon.stop() == 0, daemon.log()


def test_run_exits_2_naming_server_listen_when_the_port_is_taken(wire: Wire) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        configure(wire, port)
        result = subprocess.run(
            wire.command("run"),
            cwd=wire.folder,
            env=daemon_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert "[server] listen" in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
