"""Where a poll's time goes: cProfile of one cold and one warm `Aggregator.poll` of the farm.

    python -m bench.hotspots [--feeds 200] [--top 25] [--sort cumulative|tottime] [--save DIR]

The farm runs in its own process as in `python -m bench`; the poll runs in this one under
cProfile (which slows pure-Python code more than C code, so read the shares, not the seconds).
`--save DIR` also writes the raw profiles (`cold.prof`, `warm.prof`) for snakeviz or pstats.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
from collections.abc import Callable
from pathlib import Path

from aggregator.core import make_aggregator
from bench.common import bench_settings, progress
from bench.farm import FarmProcess


def profile_poll(label: str, poll: Callable[[], object], top: int, sort: str, save: Path | None) -> str:
    """Profile one call of `poll`; returns its summary line and the top functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    summary = poll()
    profiler.disable()
    if save:
        save.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(save / f"{label}.prof")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(sort).print_stats(top)
    return f"== {label} poll: {summary!r:.200}\n{out.getvalue()}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hotspots", description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", choices=("cumulative", "tottime"), default="cumulative")
    parser.add_argument("--save", type=Path, help="folder for the raw profiles")
    args = parser.parse_args()
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    with (
        FarmProcess(args.feeds) as farm,
        tempfile.TemporaryDirectory(prefix="offthewire-hotspots-") as scratch,
        make_aggregator(bench_settings(Path(scratch))) as aggregator,
    ):
        for url in farm.urls:
            aggregator.add_source(url)

        def poll() -> object:
            return aggregator.poll(every_source=True, publish=False)

        for label in ("cold", "warm"):
            progress(f"profiling the {label} poll of {args.feeds} feeds")
            print(profile_poll(label, poll, args.top, args.sort, args.save))


if __name__ == "__main__":
    main()
