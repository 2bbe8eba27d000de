"""Entries to items ready to store: identity, topics and story-matching keys; pure.

The CPU-heavy half of storing a feed that needs no database, so a poll runs it in the parser
processes beside parsing (see `update/pool.py`); the store then only matches and writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

from aggregator import identity, stories
from aggregator.text import plain_text
from aggregator.topics import TopicMatcher
from aggregator.types import Entry, ItemFacts, NewItem, Source


def prepare_items(source: Source, entries: Sequence[Entry], matcher: TopicMatcher) -> list[NewItem]:
    """Entries of one source with their identity, topics and story-matching keys, ready to store."""
    return prepare_changed_items(source, entries, matcher)[0]


def prepare_changed_items(
    source: Source, entries: Sequence[Entry], matcher: TopicMatcher, stored: Collection[int] = frozenset()
) -> tuple[list[NewItem], frozenset[int]]:
    """`prepare_items` for the entries whose version (identity and content, see `entry_version`)
    is not among `stored`, and the versions of every entry: a feed that changed usually carries
    one or two new entries beside fifty it carried last time, which need no preparing again."""
    items: list[NewItem] = []
    keys: set[str] = set()
    versions: set[int] = set()
    for entry in entries:
        key = identity.item_key(entry)
        # A key repeated inside one feed: the first copy wins, so polls never flip-flop.
        if key in keys:
            continue
        keys.add(key)
        content_hash = identity.content_hash(entry)
        version = entry_version(key, content_hash)
        versions.add(version)
        if version in stored:
            continue
        summary_text = plain_text(entry.summary) if entry.summary else ""
        head = stories.headline(entry.title, summary_text).work_out_names()
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
        items.append(
            NewItem(
                key=key,
                title=entry.title,
                link=entry.link,
                canonical_link=identity.canonical_url(entry.link),
                summary=entry.summary,
                content=entry.content,
                author=entry.author,
                published=entry.published,
                updated=entry.updated,
                content_hash=content_hash,
                topics=matcher.topics_for(facts),
                story_key=identity.story_key(source.url, key),
                match_keys=tuple(stories.lsh_keys(head)),
                name_keys=tuple(stories.name_keys(head)),
                categories=entry.categories,
                language=entry.language,
                match=head,
            )
        )
    return items, frozenset(versions)


def entry_version(key: str, content_hash: str) -> int:
    """An entry's identity and content in 8 bytes: equal exactly when both are."""
    digest = hashlib.blake2b(f"{key}\x00{content_hash}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
