"""Story matching measured on the labelled sets in tests/data/stories.

    python -m bench.storyeval [--set eval|holdout|blind|wire] [--misses N]

Items are fed in publication order through the real pipeline pieces (the Aggregator's item
preparation and the story index), one source per outlet, as `poll` would store them;
then every pair of items is scored: predicted "same story" against the labels.

Four sets: `eval.jsonl`, which the matching rules were tuned on; `holdout.jsonl`, written before
that tuning, whose misses were read for some rules since; `blind.jsonl`, written after the rules
and scored once before any rule changed, so the gap between them shows how far the rules were
fitted to the sets they were read on; and `wire.jsonl`, written the same way as realistic wire
copy (revision slugs, recurring reports, developing stories), before the rules for wire
conventions. All are always scored; `--set` chooses whose wrong merges and misses are listed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aggregator.config import DedupeSettings, OutputSettings, Settings, StorageSettings
from aggregator.core import Aggregator, make_aggregator
from aggregator.types import Entry

SETS_FOLDER = Path(__file__).resolve().parent.parent / "tests" / "data" / "stories"
EVAL_SET = SETS_FOLDER / "eval.jsonl"
HOLDOUT_SET = SETS_FOLDER / "holdout.jsonl"
BLIND_SET = SETS_FOLDER / "blind.jsonl"
WIRE_SET = SETS_FOLDER / "wire.jsonl"
SETS = {"eval": EVAL_SET, "holdout": HOLDOUT_SET, "blind": BLIND_SET, "wire": WIRE_SET}
# From the sets' README; every other outlet publishes in English. Matching is by words, names and
# figures, so a story told in two languages is mostly two stories to it: pairs within one language
# are also scored apart.
OUTLET_LANGUAGES = {
    "Gulf Courier Arabic": "ar", "Levant Wire": "ar", "Andes Herald": "es", "Diario del Plata": "es",
    "Sahel Tribune": "fr", "L'Écho Continental": "fr", "Rheinblick": "de", "Alpenland Zeitung": "de",
    "华夏通讯社": "zh", "海川日报": "zh", "京海时报": "zh", "さくら新報": "ja", "東都日報": "ja",
    "Jornal do Atlântico": "pt",
}  # fmt: skip


def language(row: dict[str, str]) -> str:
    """An item's language: its own `language` (the wire set gives one), else its outlet's."""
    return row.get("language") or OUTLET_LANGUAGES.get(row["outlet"], "en")


@dataclass(frozen=True)
class Scores:
    """Pairwise scores of one run over a set: pairs found, wrong and missed, and which."""

    items: int
    stories: int
    true_positive: int
    false_positive: int
    false_negative: int
    wrong_merges: tuple[tuple[str, str], ...]
    missed: tuple[tuple[str, str], ...]

    @property
    def precision(self) -> float:
        found = self.true_positive + self.false_positive
        return self.true_positive / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positive + self.false_negative
        return self.true_positive / wanted if wanted else 1.0


def load_eval_set(path: Path = EVAL_SET) -> list[dict[str, str]]:
    """A labelled set's items in publication order."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted(rows, key=lambda row: (row["published"], row["id"]))


def predict(rows: list[dict[str, str]], folder: Path, window_hours: float = 72.0) -> dict[str, int]:
    """Store every row as `poll` would; returns item id -> predicted story id."""
    settings = Settings(
        storage=StorageSettings(folder / "eval.db"),
        output=OutputSettings(dir=folder / "public"),
        dedupe=DedupeSettings(window_hours=window_hours),
    )
    with make_aggregator(settings) as aggregator:
        sources = {
            outlet: aggregator.add_source(f"https://feeds.{index}.example/feed.xml", name=outlet)
            for index, outlet in enumerate(sorted({row["outlet"] for row in rows}))
        }
        return {row["id"]: _store(aggregator, sources[row["outlet"]].id, row) for row in rows}


def _store(aggregator: Aggregator, source_id: int, row: dict[str, str]) -> int:
    """Store one row; returns the story it joined or started."""
    source = aggregator.store.source(source_id)
    published = datetime.fromisoformat(row["published"].replace("Z", "+00:00"))
    entry = Entry(
        guid=row["id"], title=row["title"], link=row["link"] or None, summary=row["summary"], published=published
    )
    [item] = aggregator.pipeline.prepare_items(source, [entry])
    aggregator.pipeline.storing.store_items(source, [item], published, aggregator.settings.dedupe)
    [stored] = aggregator.store.items(source_id=source_id, limit=1)
    return stored.story_id


def score(rows: list[dict[str, str]], predicted: dict[str, int], same_language: bool = False) -> Scores:
    """Pairwise scores; with `same_language`, only pairs of items in one language count."""
    tp = fp = fn = 0
    wrong: list[tuple[str, str]] = []
    missed: list[tuple[str, str]] = []
    for a, b in itertools.combinations(rows, 2):
        if same_language and language(a) != language(b):
            continue
        truth = a["story"] == b["story"]
        guess = predicted[a["id"]] == predicted[b["id"]]
        if truth and guess:
            tp += 1
        elif guess:
            fp += 1
            wrong.append((a["id"], b["id"]))
        elif truth:
            fn += 1
            missed.append((a["id"], b["id"]))
    return Scores(len(rows), len({r["story"] for r in rows}), tp, fp, fn, tuple(wrong), tuple(missed))


def evaluate(path: Path = EVAL_SET) -> tuple[Scores, Scores, list[dict[str, str]]]:
    """(all pairs, same-language pairs, the rows)."""
    rows = load_eval_set(path)
    with tempfile.TemporaryDirectory(prefix="offthewire-eval-") as scratch:
        predicted = predict(rows, Path(scratch))
    return score(rows, predicted), score(rows, predicted, same_language=True), rows


def report(name: str, scores: Scores) -> str:
    """One line of figures."""
    return (
        f"{name}: precision {scores.precision:.3f}, recall {scores.recall:.3f} "
        f"({scores.true_positive} pairs found, {scores.false_positive} wrong, {scores.false_negative} missed)"
    )


def main() -> None:
    """Score both sets and list one set's wrong merges and misses."""
    parser = argparse.ArgumentParser(prog="python -m bench.storyeval", description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), default="eval", help="whose mistakes to list (default: eval)")
    parser.add_argument("--misses", type=int, default=60, help="list at most this many of each kind (default: 60)")
    args = parser.parse_args()
    listed: tuple[Scores, list[dict[str, str]]] | None = None
    for name, path in SETS.items():
        everything, same_language, rows = evaluate(path)
        print(f"{name} ({path.name}): {everything.items} items, {everything.stories} stories")
        print("  " + report("all pairs", everything))
        print("  " + report("same-language pairs", same_language))
        if name == args.set:
            listed = same_language, rows
    assert listed is not None
    scores, rows = listed
    by_id = {row["id"]: row for row in rows}
    for label, pairs in (("WRONG MERGE", scores.wrong_merges), ("MISSED", scores.missed)):
        for a, b in pairs[: args.misses]:
            print(f"{label}: {by_id[a]['title']!r}  <>  {by_id[b]['title']!r}")


if __name__ == "__main__":
    main()
