"""Parsing speed on one core: `parse_feed` with its fast path against the feedparser path.

    python -m bench.parse_speed [--feeds N] [--runs R] [--seed S] [--json PATH]

Two corpora: the bundled sample wire (14 feeds: RSS 2.0, Atom 1.0 and RSS 1.0, which takes the
feedparser path) and N feeds of the benchmark farm (bench/farm.py, RSS 2.0 and Atom 1.0 with HTML
summaries and full content). Every document is parsed in this process, one after another, three
ways: `parse_with_feedparser` (feedparser for everything), `parse_feed` (the fast path where a
document is eligible, feedparser otherwise) and `fast_parse` alone on the eligible documents.
Times are CPU seconds of this process (the best of R runs, so other work on the machine counts
as little as possible); throughput is input megabytes (10^6 bytes) and parsed entries per second.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from aggregator.parse import parse_feed
from aggregator.parse.fast import fast_parse
from aggregator.parse.feedparser import parse_with_feedparser
from aggregator.samplewire import render_sample_wire
from aggregator.types import ParsedFeed
from bench.farm import Farm

EPOCH = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
SAMPLE_HEADERS = {"content-type": "application/xml; charset=utf-8"}
Document = tuple[str, bytes, dict[str, str]]
Parser = Callable[[bytes, dict[str, str], str, datetime], ParsedFeed | None]


@dataclass(frozen=True)
class Figure:
    """One way of parsing one corpus."""

    corpus: str
    parser: str
    documents: int
    megabytes: float
    entries: int
    seconds: float

    @property
    def megabytes_per_second(self) -> float:
        return self.megabytes / self.seconds

    @property
    def entries_per_second(self) -> float:
        return self.entries / self.seconds


def sample_wire(folder: Path) -> list[Document]:
    feeds = render_sample_wire(folder, EPOCH)
    return [(feed.file, (folder / feed.file).read_bytes(), SAMPLE_HEADERS) for feed in feeds]


def farm_sample(feeds: int, seed: int) -> list[Document]:
    farm = Farm(feeds, seed, EPOCH)
    farm.base_url = "http://127.0.0.1:8000"
    documents = []
    for index in range(feeds):
        version = farm.version(index, 0)
        documents.append((farm.path(index), version.body, {"content-type": version.content_type}))
    return documents


def cpu_seconds(parser: Parser, documents: list[Document], runs: int) -> float:
    """The best of `runs` CPU times for parsing every document once."""
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        for name, body, headers in documents:
            parser(body, headers, f"http://127.0.0.1:8000/{name}", EPOCH)
        best = min(best, time.process_time() - started)
    return best


def measure(corpus: str, documents: list[Document], runs: int) -> list[Figure]:
    entries = {
        name: len(parse_with_feedparser(body, headers, name, EPOCH).entries) for name, body, headers in documents
    }
    eligible = [d for d in documents if fast_parse(d[1], d[2], d[0], EPOCH) is not None]

    def figure(parser_name: str, parser: Parser, chosen: list[Document]) -> Figure:
        parser(chosen[0][1], chosen[0][2], chosen[0][0], EPOCH)  # imports and caches warmed
        return Figure(
            corpus=corpus,
            parser=parser_name,
            documents=len(chosen),
            megabytes=sum(len(body) for _, body, _ in chosen) / 1e6,
            entries=sum(entries[name] for name, _, _ in chosen),
            seconds=cpu_seconds(parser, chosen, runs),
        )

    figures = [
        figure("feedparser path", parse_with_feedparser, documents),
        figure("parse_feed", parse_feed, documents),
    ]
    if eligible:
        figures += [
            figure("feedparser path, eligible only", parse_with_feedparser, eligible),
            figure("fast path, eligible only", fast_parse, eligible),
        ]
    return figures


def table(figures: list[Figure]) -> str:
    lines = [
        f"{'corpus':<12} {'parser':<32} {'docs':>5} {'MB':>7} {'entries':>8} {'CPU s':>7} {'MB/s':>7} {'entries/s':>10}"
    ]
    for f in figures:
        lines.append(
            f"{f.corpus:<12} {f.parser:<32} {f.documents:>5} {f.megabytes:>7.2f} {f.entries:>8} {f.seconds:>7.3f} "
            f"{f.megabytes_per_second:>7.2f} {f.entries_per_second:>10,.0f}"
        )
    for corpus in dict.fromkeys(f.corpus for f in figures):
        by_parser = {f.parser: f for f in figures if f.corpus == corpus}
        whole = by_parser["feedparser path"].seconds / by_parser["parse_feed"].seconds
        line = f"{corpus}: parse_feed is {whole:.1f}x the feedparser path"
        if "fast path, eligible only" in by_parser:
            eligible = by_parser["fast path, eligible only"]
            ratio = by_parser["feedparser path, eligible only"].seconds / eligible.seconds
            line += (
                f"; on the {eligible.documents} of {by_parser['parse_feed'].documents} documents "
                f"the fast path takes, {ratio:.1f}x"
            )
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.parse_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200, help="farm feeds to parse (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the best counts (default 3)")
    parser.add_argument("--seed", type=int, default=6, help="the farm's seed (default 6)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        figures = measure("sample wire", sample_wire(Path(folder)), args.runs)
    figures += measure("farm", farm_sample(args.feeds, args.seed), args.runs)
    print(table(figures))
    if args.json:
        rows = [
            asdict(f) | {"mb_per_s": f.megabytes_per_second, "entries_per_s": f.entries_per_second} for f in figures
        ]
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
