"""Entries to items ready to store: identity, topics and story-matching keys; pure.

The CPU-heavy half of storing a feed that needs no database, so a poll runs it in the parser
processes beside parsing (see `workers.py`); the store then only matches and writes.
"""

from __future__ import annotations

from collections.abc import Sequence

from aggregator import dedupe
from aggregator.parse import plain_text
from aggregator.store import NewItem
from aggregator.topics import TopicMatcher
from aggregator.types import Entry, ItemFacts, Source


def prepare_items(source: Source, entries: Sequence[Entry], matcher: TopicMatcher) -> list[NewItem]:
    """Entries of one source with their identity, topics and story-matching keys, ready to store."""
    items: dict[str, NewItem] = {}
    for entry in entries:
        key = dedupe.item_key(entry)
        # A key repeated inside one feed: the first copy wins, so polls never flip-flop.
        if key in items:
            continue
        summary_text = plain_text(entry.summary) if entry.summary else ""
        head = dedupe.headline(entry.title, summary_text)
        facts = ItemFacts(
            title=entry.title,
            summary_html=entry.summary,
            source_url=source.url,
            source_name=source.display_name,
            source_topics=source.topics,
            categories=entry.categories,
            language=entry.language,
            summary_text=summary_text,
        )
        items[key] = NewItem(
            key=key,
            title=entry.title,
            link=entry.link,
            canonical_link=dedupe.canonical_url(entry.link),
            summary=entry.summary,
            content=entry.content,
            author=entry.author,
            published=entry.published,
            updated=entry.updated,
            content_hash=dedupe.content_hash(entry),
            topics=matcher.topics_for(facts),
            story_key=dedupe.story_key(source.url, key),
            match_keys=tuple(dedupe.lsh_keys(head)),
            categories=entry.categories,
            language=entry.language,
            match=head,
        )
    return list(items.values())
