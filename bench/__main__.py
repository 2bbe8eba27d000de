"""Benchmark: offthewire's poll against baselines measured in the same run, on a loopback farm.

    python -m bench [--feeds N] [--runs R]

The farm is N copies of the bundled sample wire's feeds (each copy with its own ids, links and
headlines), served by aiohttp on 127.0.0.1. Baselines:

- parse floor: `feedparser.parse(bytes)` of every body, serially (feedparser's defaults);
- network floor: plain aiohttp GETs of every feed, 32 at a time, no parsing.

Measured: a cold poll (every feed new, 200) and a warm poll (every feed unchanged, 304) through
`Aggregator.poll`. Reported: medians of R runs and their ratios to the baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import feedparser

from aggregator.config import OutputSettings, PollSettings, Settings, StorageSettings
from aggregator.core import make_aggregator, utc_now
from aggregator.samplewire import SampleWireServer, render_sample_wire


def build_farm(folder: Path, copies: int) -> list[str]:
    """Write `copies` variants of every sample feed; returns their file names."""
    source = folder / "source"
    render_sample_wire(source, utc_now())
    names = []
    for copy in range(copies):
        for path in sorted(source.glob("*.xml")):
            text = path.read_text(encoding="utf-8")
            text = text.replace(".example/", f".example/c{copy}/")
            text = re.sub(r"(<title>)([^<]{12,})(</title>)", rf"\1\2 (edition {copy})\3", text)
            name = f"c{copy}-{path.name}"
            (folder / name).write_text(text, encoding="utf-8")
            names.append(name)
    return names


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


async def plain_gets(urls: list[str]) -> None:
    slots = asyncio.Semaphore(32)
    async with aiohttp.ClientSession() as session:

        async def get(url: str) -> None:
            async with slots, session.get(url) as response:
                await response.read()

        await asyncio.gather(*(get(url) for url in urls))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=280, help="feeds in the farm (rounded to whole copies)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="offthewire-bench-") as scratch:
        root = Path(scratch)
        farm = root / "farm"
        farm.mkdir()
        names = build_farm(farm, max(1, round(args.feeds / 14)))
        bodies = [(farm / name).read_bytes() for name in names]
        entries = sum(len(feedparser.parse(body).entries) for body in bodies[:14]) * len(names) // 14
        print(f"Farm: {len(names)} feeds, about {entries} entries, {sum(map(len, bodies)) / 1e6:.1f} MB")

        results: dict[str, list[float]] = {"parse floor": [], "network floor": [], "cold poll": [], "warm poll": []}
        with SampleWireServer(farm) as server:
            urls = [server.base_url + name for name in names]
            for run in range(args.runs):
                results["parse floor"].append(timed(lambda: [feedparser.parse(body) for body in bodies]))
                results["network floor"].append(timed(lambda: asyncio.run(plain_gets(urls))))
                settings = Settings(
                    storage=StorageSettings(root / f"run{run}.db"),
                    output=OutputSettings(dir=root / f"public{run}"),
                    poll=PollSettings(timeout=60),
                )
                with make_aggregator(settings) as aggregator:
                    for url in urls:
                        aggregator.add_source(url)
                    results["cold poll"].append(timed(lambda: aggregator.poll(every_source=True)))
                    results["warm poll"].append(timed(lambda: aggregator.poll(every_source=True)))

    median = {name: statistics.median(times) for name, times in results.items()}
    print(f"\nMedians of {args.runs} runs (seconds); ratio = time / baseline, lower is better\n")
    print(f"{'pass':<14}{'seconds':>9}  {'vs parse floor':>15}  {'vs network floor':>17}")
    for name, seconds in median.items():
        print(
            f"{name:<14}{seconds:>9.3f}  {seconds / median['parse floor']:>14.2f}x"
            f"  {seconds / median['network floor']:>16.2f}x"
        )


if __name__ == "__main__":
    main()
