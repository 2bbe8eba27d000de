"""Which topics an item belongs to; pure.

Rules, in order: every topic its source was added with (`add --topic`), then every configured
topic with a keyword that appears in the headline or the summary's text. Keywords match whole
words and phrases, case-insensitively; a keyword in a script written without spaces (Chinese,
Japanese, Korean) matches anywhere. An item can be in several topics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aggregator.parse import plain_text
from aggregator.types import Topic

_NO_SPACES_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


class TopicMatcher:
    """Compiled keyword rules for a set of topics."""

    def __init__(self, topics: Iterable[Topic]) -> None:
        self._rules: list[tuple[str, re.Pattern[str]]] = []
        for topic in topics:
            if topic.keywords:
                alternatives = "|".join(_keyword_pattern(k) for k in topic.keywords)
                self._rules.append((topic.slug, re.compile(alternatives, re.IGNORECASE)))

    def topics_for(self, title: str, summary_html: str, source_topics: Iterable[str]) -> tuple[str, ...]:
        """The topic slugs for an item, source topics first, without repeats."""
        found = list(dict.fromkeys(source_topics))
        # Headline and summary are searched apart, so a phrase never spans the two.
        texts = (title, plain_text(summary_html)) if summary_html else (title,)
        for slug, pattern in self._rules:
            if slug not in found and any(pattern.search(text) for text in texts):
                found.append(slug)
        return tuple(found)


def _keyword_pattern(keyword: str) -> str:
    words = [re.escape(word) for word in keyword.split()]
    phrase = r"\s+".join(words)
    if _NO_SPACES_SCRIPT.search(keyword):
        return f"(?:{phrase})"
    return rf"(?<!\w)(?:{phrase})(?!\w)"
