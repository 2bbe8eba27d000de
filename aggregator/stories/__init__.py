"""Stories: which reports, from any source, tell one story.

A report's headline and summary become a `Headline` (headline.py; its language and script in
language.py, Chinese read in Latin letters in romanise.py); index keys find the stored reports it
may match (keys.py); the rules decide whether it is one story with them (rules.py).
"""

from aggregator.stories.headline import Headline, headline, normalise_headline, text_digest
from aggregator.stories.keys import lsh_keys, name_keys
from aggregator.stories.rules import (
    DEVELOPING_HOURS,
    REUSED_LINK_GAP,
    REVISION_HOURS,
    Match,
    as_revision,
    choose_story,
    compare,
    different_events,
    revision_moves_story,
)

__all__ = [
    "DEVELOPING_HOURS",
    "REUSED_LINK_GAP",
    "REVISION_HOURS",
    "Headline",
    "Match",
    "as_revision",
    "choose_story",
    "compare",
    "different_events",
    "headline",
    "lsh_keys",
    "name_keys",
    "normalise_headline",
    "revision_moves_story",
    "text_digest",
]
