"""Benchmark: offthewire against serial feedparser, lemon24/reader and the network limit, in one run.

    python -m bench [--quick] [--feeds N] [--runs R] [--json PATH] [--skip NAME ...]

A farm of N generated feeds (bench/farm.py) is served on 127.0.0.1 from a process of its own.
Sections, each skippable by name:

- passes: cold, warm and round polls of the farm by offthewire, serial feedparser, reader and
  plain aiohttp GETs (the network limit); medians of R runs (bench/passes.py);
- storage: microseconds per new entry saved through the store (bench/storage.py);
- profile: the same entries saved again with a timer on each stage of storing, for the
  explanation printed under the targets of those missed (bench/shortfalls.py);
- publish: publishing every feed with 1,000,000 items stored (bench/storage.py);
- scale: over the same archive, the story index loaded from its window and new entries matched
  against it (bench/story_scale.py);
- daemon: `offthewire run` subscribed to the farm, its peak memory during the cold first tick,
  then requests per second for a feed and for 304s (bench/service.py);
- freshness: fixed intervals against the adaptive scheduler (bench/freshness.py).

Contenders can be skipped by name too (offthewire, feedparser, reader, network). The table goes
to stdout, progress to stderr, and every figure to a JSON file (default bench/results.json).
`--quick` is the day-to-day configuration: 60 feeds (the daemon 30), one run, 100,000 items stored
for the publish figure, 2-second HTTP loads.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import freshness, passes, report, service, shortfalls, storage, story_scale
from bench.common import load_average, machine, progress
from bench.farm import Farm, FarmProcess

SECTIONS = ("passes", "storage", "profile", "publish", "scale", "daemon", "freshness")
DEFAULT_JSON = Path(__file__).resolve().parent / "results.json"


@dataclass(frozen=True)
class Plan:
    """How big each section is."""

    mode: str
    feeds: int
    runs: int
    storage_feeds: int
    daemon_feeds: int
    publish_items: int
    http_seconds: float
    freshness_days: int
    seed: int


FULL = Plan("full", feeds=2000, runs=3, storage_feeds=300, daemon_feeds=2000, publish_items=1_000_000,
            http_seconds=10.0, freshness_days=28, seed=6)  # fmt: skip
QUICK = Plan("quick", feeds=60, runs=1, storage_feeds=15, daemon_feeds=30, publish_items=100_000,
             http_seconds=2.0, freshness_days=28, seed=6)  # fmt: skip


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 feeds, 1 run, 100,000 items, short HTTP loads")
    parser.add_argument("--feeds", type=int, help="feeds in the farm (full: 2000)")
    parser.add_argument("--runs", type=int, help="runs of every pass; medians are reported (full: 3)")
    parser.add_argument("--publish-items", type=int, help="items stored for the publish figure (full: 1,000,000)")
    parser.add_argument("--http-seconds", type=float, help="seconds of load per HTTP case (full: 10)")
    parser.add_argument("--seed", type=int, help="the farm's seed (default: 6)")
    parser.add_argument("--skip", nargs="+", default=[], metavar="NAME", help="sections or contenders to leave out")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the figures ({DEFAULT_JSON})")
    return parser.parse_args()


def plan_from(args: argparse.Namespace) -> Plan:
    base = QUICK if args.quick else FULL
    return Plan(
        mode=base.mode,
        feeds=args.feeds or base.feeds,
        runs=args.runs or base.runs,
        storage_feeds=min(base.storage_feeds, args.feeds or base.storage_feeds),
        daemon_feeds=min(base.daemon_feeds, args.feeds or base.daemon_feeds),
        publish_items=args.publish_items or base.publish_items,
        http_seconds=args.http_seconds or base.http_seconds,
        freshness_days=base.freshness_days,
        seed=args.seed if args.seed is not None else base.seed,
    )


class Run:
    """One benchmark run: the figures so far, saved after every section, so a section that fails
    (reported in the table, not raised) or an interrupted run still leaves the others' figures."""

    def __init__(self, plan: Plan, skip: set[str], scratch: Path, json_path: Path) -> None:
        self.plan, self.skip, self.scratch, self.json_path = plan, skip, scratch, json_path
        self.figures: dict[str, Any] = {"config": {**plan.__dict__, "skipped": sorted(skip)}, "machine": machine()}
        self.results: passes.Results = {}
        self.labels: dict[str, str] = {}

    def section(self, name: str, action: Callable[[], None]) -> None:
        if name in self.skip:
            return
        started = time.perf_counter()
        try:
            action()
        except Exception as exc:  # a broken section is reported with the others' figures
            self.figures.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
            progress(f"{name}: failed: {type(exc).__name__}: {exc}")
        self.figures.setdefault("section_seconds", {})[name] = round(time.perf_counter() - started, 1)
        self.save()

    def save(self) -> None:
        self.json_path.parent.mkdir(parents=True, exist_ok=True)
        self.json_path.write_text(json.dumps(self.figures, indent=2, default=str) + "\n", encoding="utf-8")

    def measure(self) -> None:
        """Every section not skipped, against one farm."""
        plan = self.plan
        progress(f"farm: rendering {plan.feeds} feeds")
        with FarmProcess(plan.feeds, plan.seed) as farm:
            changed = farm.set_generation(1)
            farm.set_generation(0)
            self.figures["farm"] = {k: v for k, v in farm.info.items() if k != "urls"} | {"changed": changed}
            self.section("passes", lambda: self.passes(farm, changed))
            self.section("storage", lambda: self.storage(farm.epoch))
            self.section("profile", lambda: self.profile(farm.epoch))
            self.section("publish", self.publish)
            self.section("scale", self.scale)
            self.section("daemon", lambda: self.daemon(farm))
        self.section("freshness", self.freshness)
        self.figures["load_after"] = round(load_average(), 2)

    def passes(self, farm: FarmProcess, changed: int) -> None:
        players = passes.contenders(self.skip)
        self.labels = {c.name: c.label for c in players}
        self.results, failed = passes.run_passes(
            farm.set_generation, farm.urls, players, self.plan.runs, self.scratch / "passes"
        )
        for name, error in failed.items():
            self.figures.setdefault("errors", {})[f"passes of {name}"] = error
        self.figures["passes"] = {c: {p: r.as_json() for p, r in runs.items()} for c, runs in self.results.items()}
        self.figures["answer_problems"] = passes.checks(self.results, len(farm.urls), changed)

    def storage(self, epoch: datetime) -> None:
        local = Farm(self.plan.storage_feeds, self.plan.seed, epoch)
        self.figures["storage"] = storage.write_figures(local, self.plan.storage_feeds, self.scratch / "storage")

    def profile(self, epoch: datetime) -> None:
        local = Farm(self.plan.storage_feeds, self.plan.seed, epoch)
        self.figures["profile"] = shortfalls.profile_storage(
            local, self.plan.storage_feeds, self.scratch / "profile", self.figures.get("storage")
        )

    def publish(self) -> None:
        self.figures["publish"] = storage.publish_figures(self.plan.publish_items, self.scratch / "publish")

    def scale(self) -> None:
        self.figures["scale"] = story_scale.archive_figures(storage.archive(self.plan.publish_items))

    def daemon(self, farm: FarmProcess) -> None:
        farm.set_generation(0)
        with service.RunningDaemon(self.scratch / "daemon", farm.urls[: self.plan.daemon_feeds]) as daemon:
            self.figures["memory"] = service.memory_figures(daemon)
            self.figures["http"] = service.http_figures(daemon, self.plan.http_seconds)

    def freshness(self) -> None:
        self.figures["freshness"] = freshness.simulate(self.plan.freshness_days)


def main() -> None:
    args = arguments()
    plan = plan_from(args)
    skip = set(args.skip)
    unknown = skip - set(SECTIONS) - {"offthewire", "feedparser", "reader", "network"}
    if unknown:
        raise SystemExit(f"--skip: unknown name(s) {', '.join(sorted(unknown))}; sections are {', '.join(SECTIONS)}")
    # Every request goes to 127.0.0.1; a proxy from the environment must not see them.
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    with tempfile.TemporaryDirectory(prefix="offthewire-bench-") as scratch:
        run = Run(plan, skip, Path(scratch), args.json)
        run.measure()
    found = report.targets(run.figures, run.results)
    run.figures["targets"] = [t.as_json() for t in found]
    run.save()
    print(report.render(run.figures, run.results, run.labels, run.figures.get("answer_problems", [])))
    progress(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
