"""The systemd side: the unit file verifies, and the daemon speaks the sd_notify protocol.

`systemd-analyze verify` is skipped when systemd-analyze is missing, unless
OFFTHEWIRE_REQUIRE_SYSTEMD=1 (CI sets it), which makes its absence a failure. The notify test
needs no systemd: it binds the datagram socket itself and hands it over in NOTIFY_SOCKET.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Wire, atom, now_utc
from daemon_helpers import ROOT, RunningDaemon, configure, daemon_env, free_port, wait_for
from feedserver import FeedServer

UNIT = ROOT / "config" / "offthewire.service"
INSTALLED_BINARY = "/usr/local/bin/offthewire"
REQUIRED = os.environ.get("OFFTHEWIRE_REQUIRE_SYSTEMD") == "1"


def required_systemd_analyze() -> str:
    """systemd-analyze; skipped when missing, a failure when OFFTHEWIRE_REQUIRE_SYSTEMD=1."""
    path = shutil.which("systemd-analyze")
    if path is None:
        reason = "systemd-analyze not installed (Debian package: systemd)"
        if REQUIRED:
            pytest.fail(f"{reason}, and OFFTHEWIRE_REQUIRE_SYSTEMD=1 requires it")
        pytest.skip(reason)
    return path


def _verify(analyze: str, unit: Path) -> tuple[int, list[str]]:
    """Exit status of `systemd-analyze verify`, and its output lines that are about `unit`."""
    result = subprocess.run(
        [analyze, "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**daemon_env(), "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""},
    )
    output = (result.stdout + result.stderr).splitlines()
    return result.returncode, [line for line in output if unit.name in line or str(unit) in line]


def _installable_copy(folder: Path, text: str) -> Path:
    """The unit with ExecStart pointing at this venv's `offthewire`, so verify can find the binary."""
    binary = Path(sys.executable).with_name("offthewire")
    assert binary.is_file(), f"{binary} missing: install the project in the venv"
    assert text.count(f"ExecStart={INSTALLED_BINARY} ") == 1, "the unit must start /usr/local/bin/offthewire once"
    unit = folder / UNIT.name
    unit.write_text(text.replace(f"ExecStart={INSTALLED_BINARY} ", f"ExecStart={binary} "), encoding="utf-8")
    return unit


def test_unit_file_verifies(tmp_path: Path) -> None:
    systemd_analyze = required_systemd_analyze()
    text = UNIT.read_text(encoding="utf-8")
    assert re.search(r"^Type=notify$", text, re.M), "the daemon sends READY=1: the unit must say Type=notify"
    assert re.search(r"^ExecReload=.*-HUP", text, re.M), "SIGHUP reloads the config"
    unit = _installable_copy(tmp_path, text)
    code, problems = _verify(systemd_analyze, unit)
    assert not problems, "systemd-analyze verify complained:\n" + "\n".join(problems)
    assert code == 0


def test_unit_verification_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: an unknown key in the same unit is reported."""
    systemd_analyze = required_systemd_analyze()
    text = UNIT.read_text(encoding="utf-8").replace("[Service]\n", "[Service]\nRestartSecs=5s\n", 1)
    _, problems = _verify(systemd_analyze, _installable_copy(tmp_path, text))
    assert any("RestartSecs" in line for line in problems), problems


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A bound AF_UNIX datagram socket with a short path (sun_path holds 108 bytes)."""
    folder = tempfile.mkdtemp(prefix="otw-notify-", dir="/tmp")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(path)
        sock.setblocking(False)
        yield sock, path
    finally:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)


def _drain(sock: socket.socket, into: list[str]) -> list[str]:
    while True:
        try:
            into.append(sock.recv(4096).decode())
        except BlockingIOError:
            return into


def test_daemon_notifies_ready_status_watchdog_and_stopping(
    wire: Wire, feed_server: FeedServer, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    port = free_port()
    configure(wire, port)
    entries = [("urn:sd:1", "Systemd desk reports a quiet night", "https://sd.example/1", now_utc())]
    wire.add(feed_server.serve("/sd.xml", atom(entries), content_type="application/atom+xml"))
    messages: list[str] = []

    def received(prefix: str) -> list[str]:
        return [m for m in _drain(sock, messages) if any(line.startswith(prefix) for line in m.splitlines())]

    env = daemon_env(NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
    with RunningDaemon(wire, port, env=env) as daemon:
        daemon.wait_ready()
        ready = wait_for(lambda: received("READY=1"), 10, "READY=1")
        assert f"STATUS=serving http://127.0.0.1:{port}/" in ready[0]
        wait_for(lambda: received("STATUS=last tick"), 10, "a STATUS= after a tick")
        # WATCHDOG_USEC=1 s: a keep-alive at least every half second while ticks happen.
        wait_for(lambda: len(received("WATCHDOG=1")) >= 2, 10, "two WATCHDOG=1 keep-alives")
        assert daemon.stop(signal.SIGTERM) == 0, daemon.log()
    wait_for(lambda: received("STOPPING=1"), 5, "STOPPING=1 after SIGTERM")
    assert "cannot notify" not in daemon.log()
