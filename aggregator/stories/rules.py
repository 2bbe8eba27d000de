"""Story matching: every threshold and decision on whether two reports are one story.

A report becomes a `Headline` (headline.py): the words of its headline and of its summary (stop words dropped,
light stemming, one spelling for units, figures and a few headline words; character pairs for
Chinese and Japanese, split at hiragana and function characters; Arabic letter variants, articles
and suffixes folded), its figures, and its names (runs of capitalised words). `compare` first
looks for what makes two reports different events, then for what makes them one story:

Different events (vetoes):
- Chinese or Japanese headlines whose opening place or actor neither mentions ("北京…" / "天津…");
- each headline names someone the other report (headline or summary) never mentions, unless
  they share two names or figures ("Kerala floods kill 12" / "Floods in Sri Lanka kill 9");
- each headline has a figure the other report never gives, unless they share a place and most
  words (a rising toll: "kill 12" / "kill 31");
- headlines sharing fewer than two names and figures over summaries that give different facts,
  or different figures ("Asian markets open lower" on two mornings);
- one reporting what followed the other: every shared word after "after" ("Stocks rise after
  Fed holds rates" / "Fed holds rates steady").
One story, if no veto:
- headlines near-identical (Jaccard 0.6), or one a shortened copy of the other (containment);
- headlines alike (0.3) and summaries alike (0.4): a syndicated lede;
- a shared name or telling figure, and headlines sharing half their words, or summaries alike
  (0.4), or the whole reports sharing 0.4 of their words;
- two shared names or figures, and one headline told (0.7 of its words) by the other report;
- a story developing: within DEVELOPING_HOURS a rare name and a word of what happened, two names,
  or a name and a figure; within SINGULAR_NAME_HOURS a name only one story carries and a word;
- across languages, within those hours: two shared names or figures.
A story of the new report's own outlet is joined only by a revision (REVISION_HOURS, REVISION_SCORE).

Names and figures count in both directions: "Okafor" in one headline is mentioned when the other
report's summary has it, "NZ" stands for "New Zealand", "Sweden" and "Swedish" are alike.
Candidates come from an index of keys (`lsh_keys`, keys.py): MinHash LSH bands of the headline's words,
plus one key per pair of its names and figures, so a lookup costs the same at ten thousand or
ten million stored items; how many of them the index reads and compares is decided here too.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from aggregator.stories.headline import (
    MIN_MATCH_TOKENS,
    NAME_PREFIX,
    NOT_EVENTS,
    Headline,
    StoredHeadline,
    name_like,
    specific,
    telling,
)

SAME_STORY_JACCARD = 0.6
SAME_STORY_CONTAINMENT = 0.85
SUMMARY_SUPPORT_JACCARD = 0.3
SUMMARY_AGREEMENT = 0.4
# Summaries sharing under this much, with different figures or names, are about different events.
SUMMARY_CONFLICT = 0.3
# Headlines this alike are one story even if their capitalised words differ ("Thai" / "Thailand").
NAMES_OVERRULED = 0.8
# Headlines sharing this many names and figures, one of them largely told by the other report
# (headline and summary), are one story.
SAME_STORY_FACTS = 2
SAME_STORY_TOLD = 0.7
# Headlines sharing half their words, a name or telling figure among them, are one story.
SAME_STORY_NAMED_JACCARD = 0.5
# Reports (headline and summary together) sharing this much of their words, a name or telling
# figure among them, are one story.
SAME_STORY_TEXT_JACCARD = 0.4
# Reports this close in time that share a name and a word of what happened, or two names, neither
# naming anyone the other does not mention, are one story developing ("Kerala floods kill 12" /
# "Kerala floods: death toll climbs to 22"). Further apart, they may be a recurring story ("Wall
# Street opens higher" / "Wall Street: stocks close higher", 7 hours on), a scoop and its
# announcement ("Harbourline Bank nears deal for Crestmoor" / "Harbourline Bank agrees to buy
# Crestmoor", 10 hours on) or a follow-up ("Fujian begins rebuilding after Typhoon Senbai").
DEVELOPING_HOURS = 6.0
# Chinese reports of one story developing share this many character pairs, and this share of the
# shorter headline's ("山西吕梁煤矿透水事故：已有4人获救" / "吕梁煤矿透水事故救援持续 4人升井").
CJK_DEVELOPING_PAIRS = 4
CJK_DEVELOPING_SHARE = 0.4
# What happened is told by a word of this many letters or more ("flood", "outage", "rocket").
EVENT_WORD_LETTERS = 4

# An outlet revises its own story within hours ("UPDATE 1-" -> "UPDATE 3-", "(URGENT)" -> "(LEAD)"
# -> "(2nd LD)", a live page and its wrap-up); the same headline from it a day later is the next of
# a recurring report ("Stock market today:", a daily close, "Today in History"). So a report may
# join a story its own source carries only this soon after that source's latest report in it.
REVISION_HOURS = 12.0
# A revision repeats most of its headline (the slug changed, a figure, a clause); an outlet's other
# report on a related event ("nears deal" -> "agrees to buy"; a rate decision -> the market's
# reaction) shares names and little else, so it joins its own source's story only by words.
REVISION_SCORE = 0.6

# Candidates, as the index finds them for a new item.
MAX_CANDIDATE_STORIES = 12  # the stories sharing most keys with a new item
CANDIDATE_REPORTS_OLDEST = 3  # reports of a candidate story compared with a new item: its first ...
CANDIDATE_REPORTS_NEWEST = 2  # ... and its latest
KEY_POSTINGS = 64  # stories read per candidate key (its newest)
# A name carried by at most this many stories within DEVELOPING_HOURS is rare enough to tell one
# story developing ("Kerala", "Orbica Cloud"); one carried by more ("Paris", "Trump") is not.
RARE_NAME_STORIES = 3
RARE_NAME_POSTINGS = 16  # a name's newest postings read to tell: a common name's postings span more stories
# A name that only one story carries in the whole window (a storm's, a company's in one incident:
# "Cyclone Kerrin", "Stratocore outage") ties that story's reports over this many hours, when they
# tell of the same thing besides (the warning, the landfall and the clean-up two days on).
SINGULAR_NAME_HOURS = 48.0


@dataclass(frozen=True)
class Match:
    """Whether two reports are one story, how close they are, and why."""

    same: bool
    score: float
    reason: str


def compare(
    a: Headline,
    b: Headline,
    hours_apart: float | None = None,
    common_names: frozenset[str] = frozenset(),
    singular_names: frozenset[str] = frozenset(),
) -> Match:
    """Are two reports one story? Pure and symmetric. With `hours_apart`, the hours between the
    reports, reports of a story developing within DEVELOPING_HOURS are joined too, through names
    other than `common_names` (names cut to NAME_PREFIX letters that many stories carry in those
    hours: "Paris" tells no story apart); and within SINGULAR_NAME_HOURS when both give one of
    `singular_names` (names only one story of the window carries)."""
    if not a.specific or not b.specific:
        return Match(False, 0.0, "a headline is too short to name one event")
    overlap = _Overlap.of(a, b)
    shared, jaccard, containment = a.tokens & b.tokens, overlap.jaccard, overlap.containment
    summary, whole, told = overlap.summary, overlap.whole, overlap.told
    score = max(jaccard, containment * SAME_STORY_JACCARD / SAME_STORY_CONTAINMENT)
    near = hours_apart is not None and hours_apart <= DEVELOPING_HOURS
    developing = near or (
        _may_develop(hours_apart, singular_names)  # else neither report's names are worked out here
        and not singular_names.isdisjoint(a.name_prefixes & b.name_prefixes)
    )
    if overlap.too_little and not developing:
        return Match(False, score, f"headlines share only {len(shared)} of {len(a.tokens | b.tokens)} words")
    # Chinese and Japanese headlines open with their place or actor: neither mentions the other's.
    if a.subject and b.subject and not _has_subject(a, b) and not _has_subject(b, a):
        return Match(False, score, f"different subjects ({a.subject} / {b.subject})")
    if (followed := _follows(a, b) or _follows(b, a)) is not None:
        return Match(False, score, f"one reports what followed the other ({followed})")
    if developing and (both_give := _told_in_two_languages(a, b, common_names)):
        return Match(
            True, score, f"one story in {a.language} and {b.language}: both give {both_give}, {hours_apart:.0f} h apart"
        )
    only_a, only_b = _unexplained(a, b), _unexplained(b, a)
    # Each naming someone the other does not is a different actor, unless a telling figure is in
    # both too ("EU fines Veltrix €480m" / "Brussels hits Veltrix with €480m fine").
    others = only_a and only_b and not a.figures & b.figures
    if developing and not others and (shared_facts := _developing(a, b, common_names, figures_tell=near)):
        return Match(True, score, f"a story developing: both name {shared_facts}, {hours_apart:.0f} h apart")
    if developing and (shared_pairs := _developing_in_characters(a, b)):
        return Match(True, score, f"a story developing: both write {shared_pairs}, {hours_apart:.0f} h apart")
    if overlap.too_little:
        return Match(False, score, f"headlines share only {len(shared)} of {len(a.tokens | b.tokens)} words")
    facts = _shared_facts(a, b)
    # Each headline names someone or somewhere the other never mentions: different actors (unless
    # they share two names or figures: "EU fines Veltrix €480m" / "Brussels hits Veltrix with €480m fine").
    if only_a and only_b and jaccard < NAMES_OVERRULED and facts < SAME_STORY_FACTS:
        return Match(False, score, f"different names ({_listed(only_a)} / {_listed(only_b)})")
    # A rising toll in the same place is the same story; other figures in other places are not.
    figures_a, figures_b = _figures_only_in(a, b), _figures_only_in(b, a)
    if figures_a and figures_b and (not _alike_sets(a.places, b.places) or jaccard < SAME_STORY_JACCARD):
        return Match(False, score, f"different numbers ({_listed(figures_a)} / {_listed(figures_b)})")
    # The same plain headline over different facts: a recurring "Asian markets open lower", another
    # country's central bank. Headlines that share names and figures are not plain.
    if summary is not None and summary < SUMMARY_CONFLICT and facts < SAME_STORY_FACTS and _facts_differ(a, b):
        return Match(False, score, f"the summaries give different facts ({summary:.2f} of their words shared)")
    # However alike the summaries, when each gives figures and none is in the other report ("up 420
    # yen" / "up 215 yen"), they report different days of a recurring story.
    if facts < SAME_STORY_FACTS and _summary_figures_differ(a, b):
        return Match(
            False,
            score,
            f"the summaries give different figures ({_listed(a.summary_numbers)} / {_listed(b.summary_numbers)})",
        )
    if jaccard >= SAME_STORY_JACCARD:
        return Match(True, score, f"headlines share {len(shared)} of {len(a.tokens | b.tokens)} words")
    if containment >= SAME_STORY_CONTAINMENT and min(len(a.tokens), len(b.tokens)) >= MIN_MATCH_TOKENS + 1:
        return Match(True, score, "one headline is a shortened copy of the other")
    if summary is not None and jaccard >= SUMMARY_SUPPORT_JACCARD and summary >= SUMMARY_AGREEMENT:
        return Match(True, score, f"similar headlines and summaries ({summary:.2f} of summary words shared)")
    if facts and jaccard >= SAME_STORY_NAMED_JACCARD:
        return Match(
            True,
            score,
            f"headlines share {len(shared)} of {len(a.tokens | b.tokens)} words, names or figures among them",
        )
    if facts and summary is not None and summary >= SUMMARY_AGREEMENT:
        return Match(True, score, f"headlines share names or figures, summaries {summary:.2f} of their words")
    if facts and whole >= SAME_STORY_TEXT_JACCARD:
        return Match(True, score, f"the reports share {whole:.2f} of their words, names or figures among them")
    if facts >= SAME_STORY_FACTS and told >= SAME_STORY_TOLD:
        return Match(
            True,
            max(score, SAME_STORY_JACCARD * told),
            f"{facts} names and figures shared; {told:.2f} of one headline is in the other report",
        )
    return Match(False, score, f"headlines share only {len(shared)} of {len(a.tokens | b.tokens)} words")


def _follows(a: Headline, b: Headline) -> str | None:
    """What `b` says happened after the event `a` reports ("Stocks rise" after "Fed holds rates
    steady"): every word the headlines share is in `b`'s clause of cause and in `a`'s main clause,
    and `b`'s main clause shares none of `a`'s words. None when `b` is not such a reaction."""
    main_b, cause_b = b.clauses
    shared = a.tokens & b.tokens
    if not cause_b or not shared or not shared <= cause_b or not shared <= a.clauses[0] or main_b & a.all_tokens:
        return None
    return " ".join(sorted(main_b)[:4])


def _developing_in_characters(a: Headline, b: Headline) -> str | None:
    """What two Chinese reports of a story developing share: CJK_DEVELOPING_PAIRS character pairs
    or more, CJK_DEVELOPING_SHARE of the shorter headline's, and no figure each gives that the
    other does not ("遥感四十五号" / "遥感四十六号" are two satellites; "9人被困" / "已有4人获救"
    share no figure the other lacks: a toll told once). None when they do not."""
    if a.language != "zh" or b.language != "zh" or a.digest or b.digest:
        return None
    shared = sorted(token for token in a.tokens & b.tokens if token not in a.numbers)
    if len(shared) < CJK_DEVELOPING_PAIRS or len(shared) < CJK_DEVELOPING_SHARE * min(len(a.tokens), len(b.tokens)):
        return None
    if _figures_only_in(a, b) and _figures_only_in(b, a):
        return None
    return "、".join(shared)


def _developing(a: Headline, b: Headline, common_names: frozenset[str], figures_tell: bool = True) -> str | None:
    """What two reports of a story developing share: a name one headline gives whole and the other
    has too ("Kerala", "Orbica Cloud") and a word of what happened that both use ("flood",
    "outage"), or two such names ("Northbridge", "Castlegate"), or (when `figures_tell`, within
    hours) a name and a figure; None when they do not. Days apart a figure tells nothing: a
    conference's name holds its number ("COP31"), and each of its days is news of its own. Headlines
    whose case tells no names, and digests listing several stories ("Daily briefing: Kerala floods,
    Harbourline deal, Vega-X failure"), share none."""
    if not a.cased or not b.cased or a.digest or b.digest:
        return None
    names = max(
        [entity for entity in a.entities if _given_whole(entity, a, b) and not _common(entity, common_names)],
        [entity for entity in b.entities if _given_whole(entity, b, a) and not _common(entity, common_names)],
        key=len,
    )
    if not names:
        return None
    if len(names) >= 2:
        return f"{' '.join(names[0])} and {' '.join(names[1])}"
    if figures_tell and (figures := sorted(a.figures & b.figures)):
        return f"{' '.join(names[0])} and {figures[0]}"
    name_words = frozenset(names[0])
    events = sorted(
        word
        for word in a.tokens & b.tokens
        if len(word) >= EVENT_WORD_LETTERS
        and word not in a.numbers
        and word not in NOT_EVENTS
        and not _alike(word, name_words)
    )
    return f"{' '.join(names[0])} and tell of {events[0]}" if events else None


def _told_in_two_languages(a: Headline, b: Headline, common_names: frozenset[str]) -> str | None:
    """What two reports in different languages both give, when it is at least two names and
    telling figures: "Mercosur" and "25" ("EU and Mercosur sign trade accord after 25 years of
    talks" / "UE y Mercosur firman el acuerdo comercial tras 25 años"), "senbai" and "fujian" read
    from 台风“森白”登陆福建. Names that many stories carry in those hours do not count."""
    if not a.language or not b.language or a.language == b.language or a.digest or b.digest:
        return None
    names = max(_names_in_other_language(a, b, common_names), _names_in_other_language(b, a, common_names), key=len)
    facts = [*names, *sorted(a.figures & b.figures)]
    return " and ".join(facts) if len(facts) >= SAME_STORY_FACTS else None


def _names_in_other_language(a: Headline, b: Headline, common_names: frozenset[str]) -> list[str]:
    """Names of `a`'s headline that `b` mentions too: alike in Latin letters, or read so from Chinese."""
    words, readings = b.latin_mentions
    return sorted(
        name
        for name in a.latin_names
        if name[:NAME_PREFIX] not in common_names and (name in readings or _alike(name, words))
    )


def _common(entity: tuple[str, ...], common_names: frozenset[str]) -> bool:
    return all(word[:NAME_PREFIX] in common_names for word in entity)


def _given_whole(entity: tuple[str, ...], a: Headline, b: Headline) -> bool:
    """Is every word of a name of headline `a` among the names of headline `b`? A first word
    counts only when it looks like a name or either report capitalises it elsewhere."""
    if entity == (a.first,) and not name_like(a.first) and not _alike(a.first, a.capitalised | b.capitalised):
        return False
    return all(_alike(word, b.names) for word in entity)


def _shared_facts(a: Headline, b: Headline) -> int:
    """Names (runs of capitalised words), telling figures and, in Chinese or Japanese, the opening
    place or actor, in both headlines. A capitalised first word counts when it looks like a name
    ("COP31", "EU") or either report capitalises it elsewhere ("Central bank holds rates" names no
    one); a figure counts when it has two digits or more ("2-1" could be any match)."""
    subject = (a.subject and a.subject in b.tokens) or (b.subject and b.subject in a.tokens)
    return max(_facts_of(a, b), _facts_of(b, a)) + (1 if subject else 0)


def _facts_of(a: Headline, b: Headline) -> int:
    names = sum(
        1
        for entity in a.entities
        if (entity != (a.first,) or _alike(a.first, a.capitalised | b.capitalised)) and _meets(entity, b.names, b)
    )
    figures = sum(1 for number in a.numbers & b.numbers if telling(number))
    return names + figures


def _meets(entity: tuple[str, ...], words: frozenset[str], b: Headline) -> bool:
    """Is a name of one report among `words` of report `b`, or an acronym of it ("NZ" / "New Zealand")?"""
    if len(entity) > 1 and "".join(word[0] for word in entity) in words:
        return True
    return any(_alike(word, words) or b.has_initials(word) for word in entity)


class _Overlap(NamedTuple):  # a tuple: made for every candidate report, as cheaply as can be
    """How much two reports' words overlap: the first test of `compare`, which needs words only."""

    jaccard: float  # of the headlines' words
    containment: float  # of the shorter headline's words in the other
    summary: float | None  # Jaccard of the summaries' words, when both have a summary
    whole: float  # Jaccard of headline and summary words together
    told: float  # of either headline's words in the other report

    @classmethod
    def of(cls, a: Headline, b: Headline) -> _Overlap:
        return cls.between(a, b.tokens, b.summary_tokens, b.all_tokens, len(b.all_tokens))

    @classmethod
    def between(
        cls, a: Headline, b: Collection[str], b_summary: Collection[str], b_all: Collection[str], b_all_count: int
    ) -> _Overlap:
        """The overlap of report `a` with headline words `b`, given with its summary's words, both
        together (`b_all`, which may repeat a word) and their number: sets or tuples of distinct
        words alike, so a stored report is weighed without being made a `Headline` (`ruled_out`)."""
        a_words, a_summary, a_all = a.tokens, a.summary_tokens, a.all_tokens
        shared = len(a_words.intersection(b))
        told_a = len(a_words.intersection(b_all)) / len(a_words) if len(a_words) > MIN_MATCH_TOKENS else 0.0
        told_b = len(a_all.intersection(b)) / len(b) if len(b) > MIN_MATCH_TOKENS else 0.0
        whole = len(a_all.intersection(b_all))  # unions counted, not built
        if a_summary and b_summary:
            summary_shared = len(a_summary.intersection(b_summary))
            summary: float | None = summary_shared / (len(a_summary) + len(b_summary) - summary_shared)
        else:
            summary = None
        return cls(
            jaccard=shared / (len(a_words) + len(b) - shared),
            containment=shared / min(len(a_words), len(b)),
            summary=summary,
            whole=whole / (len(a_all) + b_all_count - whole),
            told=max(told_a, told_b),
        )

    @property
    def too_little(self) -> bool:
        """Too little in common for any rule of `compare` to join the two reports."""
        return (
            self.jaccard < SUMMARY_SUPPORT_JACCARD
            and self.containment < SAME_STORY_CONTAINMENT
            and (self.summary is None or self.summary < SUMMARY_AGREEMENT)
            and self.whole < SAME_STORY_TEXT_JACCARD
            and self.told < SAME_STORY_TOLD
        )


def ruled_out(
    a: Headline, b: StoredHeadline, hours_apart: float | None, singular_names: frozenset[str] = frozenset()
) -> bool:
    """Is `compare(a, b.headline(), hours_apart, ..., singular_names)` sure to find two stories, from
    `b`'s words alone (the first tests of `compare`)? So the index compares most candidate reports
    without making them `Headline`s again. Reports that may be one story developing (close in time,
    or sharing a name only one story carries) need their names, so are never ruled out here."""
    if _may_develop(hours_apart, singular_names):
        return False
    if not a.specific or not specific(b.text, b.tokens):
        return True
    return _Overlap.between(a, b.tokens, b.summary_tokens, b.tokens + b.summary_tokens, b.all_count).too_little


def _may_develop(hours_apart: float | None, singular_names: frozenset[str]) -> bool:
    """Are two reports this far apart close enough to be one story developing, through a rare name
    (DEVELOPING_HOURS) or, when there are `singular_names`, through one of them (SINGULAR_NAME_HOURS)?"""
    if hours_apart is None:
        return False
    return hours_apart <= DEVELOPING_HOURS or (bool(singular_names) and hours_apart <= SINGULAR_NAME_HOURS)


def _has_subject(a: Headline, b: Headline) -> bool:
    return a.subject in b.tokens or a.subject in b.summary_tokens


def _unexplained(a: Headline, b: Headline) -> frozenset[str]:
    """Names of `a` (whole runs such as "Castlegate Rovers") of which `b` mentions no word."""
    return frozenset(" ".join(entity) for entity in a.entities if not _explained(entity, b))


def _explained(entity: tuple[str, ...], b: Headline) -> bool:
    return _meets(entity, b.mentions, b)


def _alike(word: str, words: frozenset[str]) -> bool:
    """Is `word` among `words`, or one sharing its first letters ("Sweden", "Swedish")?"""
    if word in words:
        return True
    if len(word) < NAME_PREFIX:
        return False
    prefix = word[:NAME_PREFIX]
    return any(other.startswith(prefix) for other in words)


def _alike_sets(a: frozenset[str], b: frozenset[str]) -> bool:
    return any(_alike(word, b) for word in a)


def _facts_differ(a: Headline, b: Headline) -> bool:
    """Summaries with figures or names, none of them anywhere in the other report."""
    return _summary_facts_unshared(a, b) or _summary_facts_unshared(b, a)


def _summary_figures_differ(a: Headline, b: Headline) -> bool:
    """Both summaries give figures, and none of them appears anywhere in the other report."""
    if not a.summary_numbers or not b.summary_numbers:
        return False
    return not a.summary_numbers & (b.numbers | b.summary_numbers) and not b.summary_numbers & a.numbers


def _summary_facts_unshared(a: Headline, b: Headline) -> bool:
    numbers = a.summary_numbers and b.summary_numbers and not a.summary_numbers & (b.numbers | b.summary_numbers)
    names = (
        a.summary_names
        and b.summary_names
        and not any(_alike(word, b.summary_names | b.names) for word in a.summary_names)
    )
    return bool(numbers or names)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    shared = len(a & b)  # the union counted, not built
    return shared / (len(a) + len(b) - shared)


# A page that names other actors a day or more after a report linked it has been reused for new
# news (a live page, a weather-warning page); within a day it is the same story developing
# ("Earthquake of magnitude 6.1 strikes off Hokkaido" -> "UPDATE 2-Strong quake off northern Japan").
REUSED_LINK_GAP = timedelta(hours=24)


def different_events(a: Headline, b: Headline) -> bool:
    """Whether two reports name different actors or places outright (the name veto of `compare`,
    whatever else they share): a page reused for new news ("Weather warning for Oslo as freezing
    rain expected" / "Weather warning for Bergen as storm nears") carries two stories."""
    if a.subject and b.subject and not _has_subject(a, b) and not _has_subject(b, a):
        return True
    jaccard = _jaccard(a.tokens, b.tokens) if a.tokens and b.tokens else 0.0
    only_a, only_b = _unexplained(a, b), _unexplained(b, a)
    return bool(only_a and only_b) and jaccard < NAMES_OVERRULED and _shared_facts(a, b) < SAME_STORY_FACTS


def choose_story(
    head: Headline,
    candidates: Sequence[tuple[int, Headline, float | None]],
    common_names: frozenset[str] = frozenset(),
    own_stories: frozenset[int] = frozenset(),
    singular_names: frozenset[str] = frozenset(),
) -> int | None:
    """The story whose report matches `head` best, or None when none is the same story. Each
    candidate is (story id, report, hours between the report and `head`, if known); a story of
    `own_stories` (its source's own) is joined only as a revision (REVISION_SCORE)."""
    best: tuple[float, int] | None = None
    for story_id, other, hours_apart in candidates:
        match = compare(head, other, hours_apart, common_names, singular_names)
        if story_id in own_stories:
            match = as_revision(match)
        if not match.same:
            continue
        if best is None or match.score > best[0]:
            best = (match.score, story_id)
    return best[1] if best else None


def as_revision(match: Match) -> Match:
    """A match with an earlier report of the same outlet: one story only when the new report is a
    revision of it (REVISION_SCORE: most of its headline repeated)."""
    if match.same and match.score < REVISION_SCORE:
        return Match(False, match.score, f"one outlet's reports, but not a revision: {match.reason}")
    return match


def revision_moves_story(republish_updates: bool, revisions_today: int, max_revisions: int) -> bool:
    """Does an upstream rewrite of a report show as an update of its story in the feeds?

    Not when updates are not republished, nor when the report keeps changing: past `max_revisions`
    rewrites in a day its text flaps (a counter, a live blog), and readers are not pinged again."""
    return republish_updates and revisions_today <= max_revisions


def _figures_only_in(a: Headline, b: Headline) -> frozenset[str]:
    """The figures of `a`'s headline that report `b` gives nowhere."""
    return a.numbers - b.numbers - b.summary_numbers


def _listed(values: frozenset[str]) -> str:
    return ", ".join(sorted(values)[:4])
