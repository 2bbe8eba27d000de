"""What the benchmark's sections share: the settings offthewire runs with, topics, timing, the machine.

offthewire runs with its shipped defaults except two: `[poll] per_host` is raised to
`[poll] concurrency`, because the farm stands in for thousands of publishers but answers on one
loopback address (the default of 4 fetches per host would measure a limit real subscriptions do
not meet), and a fetch's deadline is longer so a loaded machine does not turn into failed fetches.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from aggregator.config import OutputSettings, PollSettings, Settings, StorageSettings
from aggregator.types import Topic

T = TypeVar("T")

FETCH_TIMEOUT = 60.0
TOPICS = (
    Topic("world", "World", keywords=("minister", "parliament", "border", "senate", "voters")),
    Topic("business", "Business", keywords=("central bank", "interest rates", "bond sale", "exporters", "budget")),
    Topic("tech", "Technology", keywords=("chipmaker", "startup", "satellite launch", "data rules")),
    Topic("science", "Science", keywords=("researchers", "study", "glacier", "scientists")),
    Topic("sports", "Sports", keywords=("league", "coach", "striker", "title race", "transfer window")),
    Topic("health", "Health", keywords=("health officials", "vaccine rollout", "hospital", "nurses")),
    Topic("climate", "Climate", keywords=("storm", "drought relief", "flood defences", "coal phase-out")),
    Topic("culture", "Culture", keywords=("museum", "festival", "exhibition")),
)


def bench_settings(folder: Path, database: Path | None = None) -> Settings:
    """offthewire's settings for a benchmark install in `folder` (see the module docstring)."""
    defaults = PollSettings()
    return Settings(
        storage=StorageSettings(database or folder / "offthewire.db"),
        output=OutputSettings(dir=folder / "public"),
        poll=PollSettings(per_host=defaults.concurrency, timeout=FETCH_TIMEOUT),
        topics=TOPICS,
    )


def toml_config(settings: Settings, listen: str) -> str:
    """`settings` as the TOML file `offthewire run` reads (only what bench_settings sets, and the server)."""
    lines = [
        "[storage]",
        f'path = "{settings.storage.path}"',
        "[output]",
        f'dir = "{settings.output.dir}"',
        f'base_url = "http://{listen}/"',
        "[poll]",
        f"per_host = {settings.poll.per_host}",
        f"timeout = {settings.poll.timeout}",
        "tick = 3600",
        "[server]",
        f'listen = "{listen}"',
    ]
    for topic in settings.topics:
        keywords = ", ".join(f'"{k}"' for k in topic.keywords)
        lines += ["[[topics]]", f'slug = "{topic.slug}"', f'title = "{topic.title}"', f"keywords = [{keywords}]"]
    return "\n".join(lines) + "\n"


def timed(action: Callable[[], T]) -> tuple[float, T]:
    """Seconds `action` took, and what it returned."""
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def load_average() -> float:
    return os.getloadavg()[0]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average_1min": round(load_average(), 2),
    }


def progress(message: str) -> None:
    """A progress line on stderr, so stdout keeps only the table."""
    print(message, file=sys.stderr, flush=True)
