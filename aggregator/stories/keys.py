"""Index keys of a report, which find the stored reports it may be the same story as: MinHash
LSH bands of its headline's words, pairs of its names and figures (`lsh_keys`), its names alone
for a story developing (`name_keys`)."""

from __future__ import annotations

import hashlib
import struct

from aggregator.stories.headline import NAME_PREFIX, Headline, telling

LSH_BANDS = 16
LSH_ROWS = 2  # a band key holds its two values side by side (see lsh_keys)
# At most this many names and figures of a headline make pair keys (at most 10 keys).
MAX_KEY_FACTS = 5
# A Chinese headline's character pairs, read in Latin letters, that make name keys: which of them
# is a name is not known, so more than MAX_KEY_FACTS (a headline of 14 characters has 13 pairs).
MAX_READING_KEYS = 12
_MINHASH_VALUES = struct.Struct(f"<{LSH_BANDS * LSH_ROWS}I")
_MINHASH_BYTES = _MINHASH_VALUES.size


def lsh_keys(head: Headline) -> list[int]:
    """Index keys of a report: a stored report sharing one with a new one is a candidate story.

    - 16 MinHash LSH bands of 2 rows over the headline's tokens: two headlines with Jaccard
      similarity 0.5 share one with 99% probability, at 0.3 with 78%;
    - one key per pair of the headline's first five names and telling figures, so that rewordings
      sharing little but their actors ("Okafor strikes late as Northbridge edge Castlegate" /
      "Northbridge United beat Castlegate Rovers 2-1") meet too. Names are cut to their first
      letters, so "Sweden" and "Swedish" give one key. A headline in capitals or Title Case, whose
      names cannot be told from its other words, has band keys only.

    Each key is a 64-bit integer (a hash of the band's values or of the pair), so the index stays
    small. At most 26 keys, each looked up in an index: the cost of finding candidates does not
    grow with the number of stored reports."""
    if not head.specific:
        return []
    # One 128-byte SHAKE digest per token gives its 32 hash values at once: a column's minimum is
    # one MinHash value (as fast as C, where 32 seeded hashes per token in Python were 250 us).
    values = [_MINHASH_VALUES.unpack(hashlib.shake_128(token.encode()).digest(_MINHASH_BYTES)) for token in head.tokens]
    signature = [min(column) for column in zip(*values, strict=True)]
    # A band's key is its number and its two values (30 bits of each) side by side: exact, no hashing.
    bands = [
        _signed64(band << 60 | (signature[2 * band] >> 2) << 30 | signature[2 * band + 1] >> 2)
        for band in range(LSH_BANDS)
    ]
    facts = _key_facts(head)
    pairs = [_hash64(f"n:{x}\x00{y}") for i, x in enumerate(facts) for y in facts[i + 1 :]]
    return bands + pairs


def name_keys(head: Headline) -> list[tuple[str, int]]:
    """Index keys for a story developing: one per name of the headline (its first five, cut as
    in `lsh_keys`), as (name, key), so that reports sharing a name and little else ("Kerala floods
    kill 12" / "Kerala flood death toll rises to 31") meet. A name is in many more reports than a
    pair of names, so these keys are looked up only within DEVELOPING_HOURS, and a name that many
    stories carry there is common (`compare`'s `common_names`). A Chinese headline's keys are
    its first MAX_READING_KEYS character pairs read in Latin letters and cut alike ("senb" for
    森白 meets "Senbai"). A headline in capitals or Title Case, or a digest of several stories,
    has none."""
    if not head.specific or head.digest:
        return []
    if head.readings:
        names = list(dict.fromkeys(reading[:NAME_PREFIX] for reading in head.readings))[:MAX_READING_KEYS]
    elif head.cased:
        names = list(dict.fromkeys(word[:NAME_PREFIX] for entity in head.entities for word in entity))[:MAX_KEY_FACTS]
    else:
        return []
    return [(name, _hash64(f"n:{name}")) for name in names]


def _hash64(text: str) -> int:
    """A stable signed 64-bit hash (SQLite's INTEGER range)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def _signed64(value: int) -> int:
    """An unsigned 64-bit value as SQLite's signed INTEGER."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _key_facts(head: Headline) -> list[str]:
    """The names, telling figures and opening place of a headline, in a form that alike ones share."""
    found: list[str] = [head.subject] if head.subject else []
    for entity in head.entities if head.cased else ():
        found.extend(word[:NAME_PREFIX] for word in entity)
    found.extend(sorted(number for number in head.numbers if telling(number)))
    return list(dict.fromkeys(found))[:MAX_KEY_FACTS]
