"""The front page in a real browser: headless Chromium renders it, Tesseract reads the screenshot.

Needs `chromium` and `tesseract` (Debian: apt-get install chromium tesseract-ocr). Without them the
test is skipped, unless OFFTHEWIRE_REQUIRE_BROWSER=1 (CI sets it), which makes their absence a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import struct
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from conftest import Wire, atom, now_utc
from daemon_helpers import RunningDaemon, configure, daemon_env, free_port, wait_for
from feedserver import FeedServer

ATOM_TYPE = "application/atom+xml; charset=utf-8"
REQUIRED = os.environ.get("OFFTHEWIRE_REQUIRE_BROWSER") == "1"
BROWSER_TIMEOUT = 90
WIDTH, HEIGHT = 1280, 900

# Long, distinctive words: OCR must find every word of at least one of them.
HEADLINES = [
    "Glaciologists catalogue extraordinary meltwater discoveries",
    "Shipbuilders celebrate unprecedented harbour modernisation",
    "Philharmonic orchestra premieres thunderous symphony",
]


def _tool(name: str, preferred: str | None = None) -> str | None:
    if preferred and Path(preferred).is_file() and os.access(preferred, os.X_OK):
        return preferred
    return shutil.which(name)


def required_tools() -> dict[str, str]:
    """chromium and tesseract; skipped when missing, a failure when OFFTHEWIRE_REQUIRE_BROWSER=1."""
    found = {"chromium": _tool("chromium", "/usr/bin/chromium"), "tesseract": _tool("tesseract", "/usr/bin/tesseract")}
    missing = sorted(name for name, path in found.items() if path is None)
    if missing:
        reason = f"{' and '.join(missing)} not installed (Debian packages: chromium, tesseract-ocr)"
        if REQUIRED:
            pytest.fail(f"{reason}, and OFFTHEWIRE_REQUIRE_BROWSER=1 requires them")
        pytest.skip(reason)
    return {name: path for name, path in found.items() if path}


def _run(command: list[str], folder: Path) -> subprocess.CompletedProcess[bytes]:
    """Run a browser or OCR command in its own process group, bounded; the whole group dies after."""
    env = daemon_env(HOME=str(folder), XDG_CONFIG_HOME=str(folder / "config"), XDG_CACHE_HOME=str(folder / "cache"))
    process = subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = process.communicate(timeout=BROWSER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)
        raise AssertionError(f"{command[0]} did not finish within {BROWSER_TIMEOUT} s") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # helpers (zygote, GPU, renderer) that outlived the browser
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def _chromium(chromium: str, folder: Path, *mode: str, url: str) -> subprocess.CompletedProcess[bytes]:
    return _run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={folder / 'profile'}",
            f"--window-size={WIDTH},{HEIGHT}",
            "--force-prefers-reduced-motion",
            *mode,
            url,
        ],
        folder,
    )


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_front_page_renders_the_headlines(wire: Wire, feed_server: FeedServer) -> None:
    tools = required_tools()
    port = free_port()
    configure(wire, port, output={"title": "Browser Wire"})
    now = now_utc()
    entries: list[tuple[Any, ...]] = [
        (f"urn:browser:{n}", title, f"https://browser.example/news/{n}", now - timedelta(minutes=5 + n))
        for n, title in enumerate(HEADLINES)
    ]
    wire.add(feed_server.serve("/browser.xml", atom(entries), content_type=ATOM_TYPE), "--topic", "science")

    folder = wire.folder / "browser"
    folder.mkdir()
    with RunningDaemon(wire, port) as daemon:
        daemon.wait_ready()
        wait_for(lambda: feed_server.requests_for("/browser.xml"), 10, "the first poll")
        wait_for(lambda: all(h in daemon.get("/").text for h in HEADLINES), 10, "the headlines on the page")

        page = folder / "page.png"
        shot = _chromium(tools["chromium"], folder, f"--screenshot={page}", url=daemon.url("/"))
        assert shot.returncode == 0, shot.stderr.decode(errors="replace")[-3000:]
        dom = _chromium(tools["chromium"], folder, "--dump-dom", url=daemon.url("/"))
        assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-3000:]

    assert page.is_file(), "chromium wrote no screenshot"
    assert _png_size(page.read_bytes()) == (WIDTH, HEIGHT)

    rendered = lxml.html.fromstring(dom.stdout)
    assert not rendered.xpath("//script")
    links = {(a.get("href"), a.text_content().strip()) for a in rendered.xpath("//a")}
    for _guid, title, link, _date in entries:
        assert (link, title) in links, f"no link to {title!r} in the rendered DOM"

    ocr = _run([tools["tesseract"], str(page), "stdout"], folder)
    assert ocr.returncode == 0, ocr.stderr.decode(errors="replace")
    seen = _words(ocr.stdout.decode(errors="replace"))
    found = [h for h in HEADLINES if _words(h) <= seen]
    assert found, f"OCR found none of the headlines; it read:\n{ocr.stdout.decode(errors='replace')}"
