"""The story index's prepared headlines saved beside the database (`<database>-index`), so that a
process that starts takes in the window's reports without preparing every headline again
(preparing one takes about 400 us; reading one back about 10).

The file is a cache of preparation, keyed by a digest of the text a headline was prepared from
(`stories.text_digest`): a report is taken from it only when its stored title and summary give the
same digest, and the whole file only when the matching code that wrote it is the code running
(`FINGERPRINT`, over the sources that prepare a headline). Anything else is prepared again, so a
missing, stale or damaged file costs time, never a wrong story. It is written, in one replace,
when the process that stores closes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import marshal
import os
import sys
import zlib
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path

from aggregator import stories, text
from aggregator.stories.index import Prepared

log = logging.getLogger(__name__)

MAGIC = b"offthewire story index\n"


def _fingerprint() -> bytes:
    """What preparing a headline depends on: the sources of the stories package and of text.py,
    nh3's version (it reads summaries) and the marshal format."""
    digest = hashlib.blake2b(digest_size=16)
    package = Path(stories.__file__).parent
    for source in [*sorted(package.glob("*.py")), Path(text.__file__)]:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    digest.update(f"{version('nh3')}\0{sys.version}\0{marshal.version}".encode())
    return digest.digest()


FINGERPRINT = _fingerprint()


def path_for(database: Path) -> Path:
    return database.with_name(database.name + "-index")


def save(path: Path, prepared: Iterable[Prepared]) -> None:
    """Write the prepared headlines, replacing the file at once; a failure is logged, not raised
    (the file only saves time)."""
    payload = marshal.dumps(list(prepared))
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as out:
            out.write(MAGIC + FINGERPRINT + zlib.crc32(payload).to_bytes(4, "big"))
            out.write(payload)
        os.replace(partial, path)
    except OSError as exc:
        log.warning("the story index could not be saved to %s (%s); the next start prepares it again", path, exc)
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def load(path: Path) -> dict[int, Prepared]:
    """The prepared headlines saved in `path` by digest; empty when there is no file, or one
    written by other matching code, or damaged."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("the saved story index %s cannot be read (%s); it is prepared again", path, exc)
        return {}
    header = len(MAGIC) + len(FINGERPRINT) + 4
    if data[: len(MAGIC)] != MAGIC or data[len(MAGIC) : header - 4] != FINGERPRINT:
        return {}
    payload = memoryview(data)[header:]
    if zlib.crc32(payload).to_bytes(4, "big") != data[header - 4 : header]:
        log.warning("the saved story index %s is damaged; it is prepared again", path)
        return {}
    try:
        return {entry[0]: entry for entry in marshal.loads(payload)}
    except (ValueError, EOFError, TypeError, IndexError) as exc:
        log.warning("the saved story index %s cannot be read (%s); it is prepared again", path, exc)
        return {}
