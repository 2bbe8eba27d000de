"""Faults of the machine, not of a source: an output folder that cannot be written or was deleted,
a full disk, a deleted database. The daemon keeps serving what it has, /healthz says what is wrong,
nothing stored is lost, and it recovers when the fault goes."""

from __future__ import annotations

import json
import resource
import shutil

from conftest import Wire, atom, minutes_ago
from daemon_helpers import RunningDaemon, configure, free_port, wait_for
from feedserver import FeedServer

ATOM_TYPE = "application/atom+xml; charset=utf-8"


def entries(prefix: str, count: int) -> list[tuple[str, str, str, object]]:
    return [
        (
            f"urn:{prefix}:{n}",
            f"{prefix.title()} desk story {n} on harbour traffic",
            f"https://{prefix}.example/{n}",
            minutes_ago(n),
        )
        for n in range(count)
    ]


def test_output_folder_replaced_by_a_file_keeps_serving_and_says_why(wire: Wire, feed_server: FeedServer) -> None:
    # A folder that cannot be written, even by root: nobody can create files inside a regular file.
    def break_topics(folder: object) -> None:
        topics = wire.public / "topics"
        # Moved away in one step (the daemon may be writing into it), then a file takes its place;
        # a publish may make the folder again in between, so this is tried a few times.
        for attempt in range(20):
            gone = wire.folder / f"topics-moved-{attempt}"
            topics.rename(gone)
            shutil.rmtree(gone, ignore_errors=True)
            try:
                topics.write_text("not a folder", encoding="utf-8")
                return
            except IsADirectoryError:
                continue
        raise AssertionError("the topics folder kept coming back")

    _unwritable_output(wire, feed_server, break_topics)


def _unwritable_output(wire: Wire, feed_server: FeedServer, break_it: object) -> None:
    port = free_port()
    configure(wire, port, poll={"cap": 0.02})
    url = feed_server.serve("/wire.xml", atom(entries("alpha", 2)), content_type=ATOM_TYPE)
    wire.add(url, "--topic", "world")
    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        merged = wire.public / "off-the-wire.atom"
        wait_for(lambda: merged.is_file() and b"Alpha desk story 1" in merged.read_bytes(), 10, "the first publish")

        break_it(wire.public)  # type: ignore[operator]
        feed_server.update("/wire.xml", body=atom(entries("alpha", 3)))

        health = wait_for(
            lambda: (h := daemon.get("/healthz").json())["scheduler"]["last_error"] and h, 15, "the error in /healthz"
        )
        assert health["status"] == "degraded"
        assert "cannot be written" in health["scheduler"]["last_error"]
        assert daemon.get("/feeds/off-the-wire.atom").body == merged.read_bytes()
        # The error may come from a publish already under way when the folder broke; the new item
        # is stored by the next tick all the same.
        wait_for(
            lambda: len(json.loads(wire.run("items", "--json").stdout)) == 3,
            15,
            "the new item stored even though the feeds could not be written",
        )
        # Every tick tries the feeds again, and says so until they are written: ticks that store
        # nothing do not hide the fault.
        daemon.wait_ticks(2)
        assert "cannot be written" in daemon.get("/healthz").json()["scheduler"]["last_error"]
        assert daemon.alive()

        (wire.public / "topics").unlink()  # the fault repaired: the next tick writes every feed
        topic = wire.public / "topics" / "world.atom"
        wait_for(lambda: topic.is_file() and topic.read_bytes().count(b"<entry>") == 3, 15, "the topic feed caught up")
        wait_for(lambda: daemon.get("/healthz").json()["status"] == "ok", 15, "/healthz ok again")


def test_deleted_database_turns_healthz_503_and_names_the_file(wire: Wire, feed_server: FeedServer) -> None:
    port = free_port()
    configure(wire, port, poll={"cap": 0.02})
    wire.add(feed_server.serve("/wire.xml", atom(entries("beta", 2)), content_type=ATOM_TYPE))
    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        wait_for(lambda: (wire.public / "off-the-wire.atom").is_file(), 10, "the first publish")

        for suffix in ("", "-wal", "-shm"):
            wire.db_path.with_name(wire.db_path.name + suffix).unlink(missing_ok=True)

        health = wait_for(lambda: (r := daemon.get("/healthz")).status == 503 and r, 10, "/healthz to turn 503")
        body = health.json()
        assert body["database"]["ok"] is False
        assert "was deleted" in body["database"]["error"]
        assert wire.db_path.name in body["database"]["error"]
        feed = daemon.get("/feeds/off-the-wire.atom")
        assert feed.status == 200
        assert feed.body == (wire.public / "off-the-wire.atom").read_bytes()
        assert daemon.alive()
        assert "Traceback" not in daemon.log()


def test_a_deleted_output_folder_is_made_again_at_the_next_publish(wire: Wire, feed_server: FeedServer) -> None:
    port = free_port()
    configure(wire, port, poll={"cap": 0.02})
    url = feed_server.serve("/wire.xml", atom(entries("gamma", 2)), content_type=ATOM_TYPE)
    wire.add(url)
    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        merged = wire.public / "off-the-wire.atom"
        wait_for(lambda: merged.is_file(), 10, "the first publish")
        # Moved away in one step, then deleted: the daemon may be writing into it at this moment.
        gone = wire.folder / "public-deleted"
        wire.public.rename(gone)
        shutil.rmtree(gone, ignore_errors=True)  # a write in flight may still land in it

        feed_server.update("/wire.xml", body=atom(entries("gamma", 3)))

        wait_for(lambda: merged.is_file() and b"Gamma desk story 2" in merged.read_bytes(), 15, "the folder again")
        assert daemon.get("/healthz").json()["status"] == "ok"


def test_a_full_disk_is_one_clear_error_and_the_daemon_recovers_when_space_returns(
    wire: Wire, feed_server: FeedServer
) -> None:
    # A file-size limit on the running daemon stands in for a full disk: past it, writes fail with
    # EFBIG, which SQLite reports like ENOSPC (Python ignores SIGXFSZ, so the process lives on).
    port = free_port()
    configure(wire, port, poll={"cap": 0.02})
    wire.add(feed_server.serve("/wire.xml", atom(entries("delta", 2)), content_type=ATOM_TYPE))
    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        merged = wire.public / "off-the-wire.atom"
        wait_for(lambda: merged.is_file() and b"Delta desk story 1" in merged.read_bytes(), 10, "the first publish")
        before = merged.read_bytes()
        largest = max(path.stat().st_size for path in wire.folder.rglob("*") if path.is_file())
        resource.prlimit(daemon.pid, resource.RLIMIT_FSIZE, (largest + 16_384, resource.RLIM_INFINITY))

        long_summary = "Harbour traffic report. " * 400
        big = [
            (
                f"urn:epsilon:{n}",
                f"Epsilon desk story {n}",
                f"https://epsilon.example/{n}",
                minutes_ago(n),
                long_summary,
            )
            for n in range(300)
        ]
        feed_server.update("/wire.xml", body=atom(big))

        health = wait_for(
            lambda: (h := daemon.get("/healthz").json())["scheduler"]["last_error"] and h, 20, "the error in /healthz"
        )
        assert health["status"] == "degraded"
        assert (
            "could not be written" in health["scheduler"]["last_error"]
            or "cannot be written" in (health["scheduler"]["last_error"])
        )
        assert daemon.get("/feeds/off-the-wire.atom").body == before
        assert daemon.alive()

        resource.prlimit(daemon.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        wait_for(lambda: daemon.get("/healthz").json()["status"] == "ok", 20, "recovery once space returns")
        wait_for(lambda: b"Epsilon desk story 0" in merged.read_bytes(), 20, "the big feed published")
        titles = {item["title"] for item in json.loads(wire.run("items", "--json", "--limit", "1000").stdout)}
        assert {f"Epsilon desk story {n}" for n in range(300)} <= titles
        assert "Traceback" not in daemon.log()
