"""Story matching on the labelled sets (tests/data/stories), through the real store.

The thresholds are the measured quality, kept as floors a little below it, so a change that loses
precision or recall fails here; `python -m bench.storyeval` prints the figures and every miss.

`eval.jsonl` is the set the matching rules were tuned on; `holdout.jsonl` was written before that
tuning, and its misses were read for some rules since (its history is below); `blind.jsonl` was
written after the rules and scored once before any rule changed, so its floors say how well the
rules carry over to stories they were not fitted to; `wire.jsonl` was written the same way, as
realistic wire copy, before the rules for wire conventions.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import NamedTuple

import pytest

from bench.storyeval import SETS, evaluate


class Floors(NamedTuple):
    """What a labelled set must keep: its size, precision and both recalls."""

    items: int
    precision: float
    same_language_recall: float
    all_pairs_recall: float


# Measured 2026-11-29 on eval.jsonl: precision 1.000 on all pairs; recall 0.939 on same-language
# pairs, 0.854 on all pairs (names and figures carry a story across languages: Mercosur and 25,
# Senbai and Fujian read from Chinese; Japanese and Arabic are not read). Before the rule for one
# story in two languages and the smaller rules of that day: same-language recall 0.898, all pairs
# 0.744; before the rule for a story developing within hours (2026-11-28): recall 0.813 (all
# pairs 0.657); before the round of rules before it: precision 1.000, recall 0.573 (all pairs 0.456).
EVAL_FLOORS = Floors(items=300, precision=0.98, same_language_recall=0.93, all_pairs_recall=0.84)

# Measured 2026-11-28 on holdout.jsonl: precision 0.987; recall 0.497 on same-language pairs
# (0.342 on all pairs). The one wrong merge: two "Live updates" items sharing an evergreen URL
# (too short to name an event, so nothing tells them apart). The history, as the set is only
# worth its figures if it was not tuned on:
# - before this round of rules: precision 0.900, same-language recall 0.232 (all pairs 0.160);
# - the rules as first run on it: precision 0.945, same-language recall 0.445 (all pairs 0.307);
# - then two faults it showed were fixed: a capitalised German noun ("Prozent") counted as a name,
#   and a recurring Japanese headline whose summaries differ only in their figures was merged
#   (precision 0.972); then facts were counted from either headline, for an acronym in the
#   tuning set ("NZ" / "New Zealand"), which took recall to 0.497 here (precision 0.975);
# - then a page reused a day later for other places became a new story (the weather-warnings
#   page: "Oslo" / "Bergen"), a fault the held-out set showed: precision 0.987;
# - then (2026-11-29) the rule for a story developing within hours, written from the tuning set's
#   misses; its veto on names only one report gives was checked against wrong pairs of both sets
#   ("Reserve Bank of Australia" / "of India" is from this one): precision 0.991, same-language
#   recall 0.516 -> 0.710 (all pairs 0.356 -> 0.538). Its second form (two shared names and no
#   shared word) came from this set's misses ("Orbica to buy Lattix" / "Orbica snaps up Lattix")
#   as much as the tuning set's, so this set is no longer blind to it: precision 0.992, recall
#   0.761 (all pairs 0.573);
# - then (2026-11-29) one story in two languages, written from the tuning set's misses (all pairs
#   0.573 -> 0.618), after which this set's misses were read too: its language guess ("Magnitude
#   5.5 quake hits China's Gansu" taken for Portuguese), a first word counting as a name across
#   languages ("Aerolux streicht 2.000 Stellen" / "Aerolux to cut 2,000 jobs"), French elisions
#   ("d'Abidjan"), a name and a figure telling a story developing, a possessive first word as a
#   name ("Senegal's president ..."): precision 0.994, same-language recall 0.826 (all pairs 0.711).
HOLDOUT_FLOORS = Floors(items=150, precision=0.98, same_language_recall=0.81, all_pairs_recall=0.70)

# Measured 2026-11-29 on blind.jsonl, written after all of the above and scored once before any
# rule was changed for it: precision 0.990 (the one wrong merge: two "Live updates" sharing an
# evergreen URL, as in the held-out set), recall 0.612 on same-language pairs, 0.515 on all pairs.
# The gap to the other two sets is how far the rules are fitted to the misses they were read on.
# Then (2026-12-06) the rules for wire conventions, written from agencies' style rules and the wire
# set's misses, not this set's: institutions by one name, revisions by the same outlet, a reaction
# apart from its event, a name only one story carries over two days: precision 0.991, recall
# 0.682 on same-language pairs, 0.571 on all pairs (eval 0.947 and 0.861, holdout 0.839 and 0.720).
BLIND_FLOORS = Floors(items=150, precision=0.98, same_language_recall=0.66, all_pairs_recall=0.55)

# Measured 2026-12-06 on wire.jsonl, written blind as realistic wire copy of 21 outlets modelled on
# real agencies (revision slugs, recurring reports, live pages, developing stories over two days),
# scored once before any rule changed for it: precision 0.933, recall 0.224 on same-language pairs,
# 0.143 on all pairs. Most misses were revisions by one outlet, which were never joined then.
# After the rules for wire conventions (see the blind set): precision 0.945, recall 0.284 on
# same-language pairs, 0.176 on all pairs; most misses now are stories developing over a day or
# two through places that contain each other, and rewordings across languages. After a review of
# the day's papers counted as a digest: precision 0.973 on same-language pairs (0.981 on all).
WIRE_FLOORS = Floors(items=400, precision=0.96, same_language_recall=0.27, all_pairs_recall=0.16)
FLOORS = {"eval": EVAL_FLOORS, "holdout": HOLDOUT_FLOORS, "blind": BLIND_FLOORS, "wire": WIRE_FLOORS}
# Stories of the wire set run over two days (developing stories); the others' over 36 hours.
LONGEST_STORY = {"wire": timedelta(hours=48)}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_story_matching_keeps_its_measured_precision_and_recall(name: str) -> None:
    floors = FLOORS[name]
    everything, same_language, rows = evaluate(SETS[name])
    assert len(rows) >= floors.items
    assert everything.precision >= floors.precision, everything.wrong_merges
    assert same_language.recall >= floors.same_language_recall
    assert everything.recall >= floors.all_pairs_recall


@pytest.mark.parametrize("name", sorted(SETS))
def test_labelled_sets_are_well_formed(name: str) -> None:
    rows = [json.loads(line) for line in SETS[name].read_text(encoding="utf-8").splitlines() if line.strip()]
    keys = {"id", "outlet", "title", "summary", "link", "published", "story", "note"}
    assert all(set(row) - {"language"} == keys for row in rows)
    assert len({row["id"] for row in rows}) == len(rows)
    published = [datetime.fromisoformat(row["published"].replace("Z", "+00:00")) for row in rows]
    assert published == sorted(published)
    spans: dict[str, list[datetime]] = {}
    for row, when in zip(rows, published, strict=True):
        spans.setdefault(row["story"], []).append(when)
    longest = LONGEST_STORY.get(name, timedelta(hours=36))
    assert all(max(times) - min(times) <= longest for times in spans.values())
