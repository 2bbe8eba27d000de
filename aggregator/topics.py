"""Which topics an item belongs to, and why; pure.

Rules come at three levels and are evaluated in this order:

1. Source level: every topic the item's source was added with (`add --topic SLUG`). Always.
2. Global level: `[topic_rules] exclude`: an item with one of these terms joins no other topic.
3. Topic level, for each `[[topics]]` in config order:
   a. `languages`: when set, an item in another language stays out (an item of unknown language
      is let through);
   b. `exclude`: an item with one of these terms stays out;
   c. the item joins when any of these holds: its source is in `sources` (URL or name), one of
      its feed categories is in `categories`, a `keywords` entry appears, a `patterns` regular
      expression matches.

Terms (keywords, exclude) match whole words and phrases, case-insensitively, in the headline or
in the summary's text, never across the two; a term in a script written without spaces (Chinese,
Japanese, Korean) matches anywhere. Patterns are case-insensitive regular expressions. An item
can be in several topics.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aggregator.text import plain_text
from aggregator.types import ItemFacts, Topic

_NO_SPACES_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


@dataclass(frozen=True)
class Verdict:
    """One topic's answer for one item."""

    slug: str
    joined: bool
    reason: str


class _Terms:
    """Whole-word terms compiled to one pattern that reports which term matched.

    A pattern of many alternatives is slow to search (each is tried at every position), so it runs
    only when the text could match: when one of the terms' first words is among the text's words,
    or a term has no word of its own to look for (one in a script written without spaces)."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms = tuple(terms)
        self.pattern = (
            re.compile("|".join(f"({_term_pattern(t)})" for t in self.terms), re.IGNORECASE) if self.terms else None
        )
        first_words = [_first_word(term) for term in self.terms]
        self.always = any(word is None for word in first_words)
        self.first_words = frozenset(word for word in first_words if word)

    def find(self, texts: Sequence[str]) -> str | None:
        if self.pattern is None:
            return None
        for text in texts:
            if not self.always and self.first_words.isdisjoint(_words(text)):
                continue
            match = self.pattern.search(text)
            if match and match.lastindex:
                return self.terms[match.lastindex - 1]
        return None


_WORD = re.compile(r"\w+")


@functools.lru_cache(maxsize=256)
def _words(text: str) -> frozenset[str]:
    # Cached: every topic asks about the same headline and summary.
    return frozenset(_WORD.findall(text.casefold()))


def _first_word(term: str) -> str | None:
    """The word a text must contain for `term` to match in it, or None when there is none to ask for."""
    if _NO_SPACES_SCRIPT.search(term):
        return None
    words = _WORD.findall(term.casefold())
    return words[0] if words else None


@dataclass(frozen=True)
class _CompiledTopic:
    topic: Topic
    keywords: _Terms
    exclude: _Terms
    patterns: tuple[re.Pattern[str], ...]
    sources: frozenset[str]
    categories: frozenset[str]
    languages: frozenset[str]


class TopicMatcher:
    """Compiled topic rules."""

    def __init__(self, topics: Iterable[Topic], global_exclude: Iterable[str] = ()) -> None:
        self.global_exclude = _Terms(global_exclude)
        self.topics = tuple(
            _CompiledTopic(
                topic=topic,
                keywords=_Terms(topic.keywords),
                exclude=_Terms(topic.exclude),
                patterns=tuple(re.compile(p, re.IGNORECASE) for p in topic.patterns),
                sources=frozenset(s.casefold() for s in topic.sources),
                categories=frozenset(c.casefold() for c in topic.categories),
                languages=frozenset(_language(code) for code in topic.languages),
            )
            for topic in topics
        )

    def topics_for(self, facts: ItemFacts) -> tuple[str, ...]:
        """The topic slugs an item joins: source topics first, then configured ones, without repeats."""
        return tuple(verdict.slug for verdict in self.explain(facts) if verdict.joined)

    def explain(self, facts: ItemFacts) -> list[Verdict]:
        """Every topic's answer for the item, with the rule that decided it."""
        verdicts = [
            Verdict(slug, True, "its source was added with --topic") for slug in dict.fromkeys(facts.source_topics)
        ]
        decided = {v.slug for v in verdicts}
        texts = (facts.title, _summary_text(facts)) if facts.summary_html else (facts.title,)
        excluded = self.global_exclude.find(texts)
        for compiled in self.topics:
            slug = compiled.topic.slug
            if slug in decided:
                continue
            if excluded:
                verdicts.append(Verdict(slug, False, f"[topic_rules] exclude matched {excluded!r}"))
                continue
            verdicts.append(self._one(compiled, facts, texts))
        return verdicts

    def _one(self, compiled: _CompiledTopic, facts: ItemFacts, texts: Sequence[str]) -> Verdict:
        slug = compiled.topic.slug
        language = _language(facts.language) if facts.language else None
        if compiled.languages and language and language not in compiled.languages:
            return Verdict(slug, False, f"its language {facts.language!r} is not in languages")
        term = compiled.exclude.find(texts)
        if term:
            return Verdict(slug, False, f"exclude matched {term!r}")
        if compiled.sources & {facts.source_url.casefold(), facts.source_name.casefold()}:
            return Verdict(slug, True, "its source is in sources")
        category = next((c for c in facts.categories if c.casefold() in compiled.categories), None)
        if category:
            return Verdict(slug, True, f"its feed category {category!r} is in categories")
        term = compiled.keywords.find(texts)
        if term:
            return Verdict(slug, True, f"keyword {term!r} matched")
        for pattern in compiled.patterns:
            if any(pattern.search(text) for text in texts):
                return Verdict(slug, True, f"pattern {pattern.pattern!r} matched")
        return Verdict(slug, False, "no rule matched" if compiled.topic.has_rules else "it has no rules")


def _summary_text(facts: ItemFacts) -> str:
    return facts.summary_text if facts.summary_text is not None else plain_text(facts.summary_html)


def _term_pattern(term: str) -> str:
    phrase = r"\s+".join(re.escape(word) for word in term.split())
    if _NO_SPACES_SCRIPT.search(term):
        return phrase
    return rf"(?<!\w){phrase}(?!\w)"


def _language(code: str) -> str:
    """ "en-GB", "en_gb", "EN" -> "en": topics name languages, not regions."""
    return code.replace("_", "-").split("-")[0].casefold()
