"""TopicMatcher: whole-word and phrase keywords, case-insensitive, source topics first."""

from __future__ import annotations

import pytest

from aggregator.topics import TopicMatcher
from aggregator.types import Topic

TECH = Topic("tech", "Tech", ("AI", "semiconductor"))
SPORTS = Topic("sports", "Sports", ("world cup", "olympic"))
CHINA = Topic("china-asia", "China & Asia", ("台风",))
SCIENCE = Topic("science", "Science", ())


def matcher(*topics: Topic) -> TopicMatcher:
    return TopicMatcher(topics or (TECH, SPORTS, CHINA, SCIENCE))


@pytest.mark.parametrize("title", ["AI chips sell out", "New rules for AI", "Chipmakers bet on AI-powered phones"])
def test_keyword_matches_as_whole_word(title: str) -> None:
    assert matcher(TECH).topics_for(title, "", ()) == ("tech",)


@pytest.mark.parametrize("title", ["Minister said talks stalled", "Taiwan holds local elections", "Rain in Dubai"])
def test_keyword_does_not_match_inside_other_words(title: str) -> None:
    assert matcher(TECH).topics_for(title, "", ()) == ()


@pytest.mark.parametrize("title", ["World Cup draw in Doha", "World  Cup draw", "Hosts ready for the world\tcup"])
def test_phrase_matches_with_flexible_whitespace(title: str) -> None:
    assert matcher(SPORTS).topics_for(title, "", ()) == ("sports",)


def test_phrase_needs_all_its_words_together() -> None:
    assert matcher(SPORTS).topics_for("World leaders meet; cup final delayed", "", ()) == ()


@pytest.mark.parametrize("title", ["OLYMPIC TORCH LIT", "olympic torch lit", "Olympic torch lit"])
def test_keywords_match_case_insensitively(title: str) -> None:
    assert matcher(SPORTS).topics_for(title, "", ()) == ("sports",)


def test_keyword_in_summary_text_matches() -> None:
    summary = "<p>Regulators publish new <strong>AI</strong> guidance.</p>"
    assert matcher(TECH).topics_for("Quiet day in Brussels", summary, ()) == ("tech",)


@pytest.mark.parametrize(
    "summary",
    ['<p><a href="https://example.com/ai" title="AI">Read more</a></p>', '<p><img src="x.png" alt="AI"></p>'],
)
def test_keyword_inside_html_attribute_does_not_match(summary: str) -> None:
    assert matcher(TECH).topics_for("Quiet day in Brussels", summary, ()) == ()


def test_source_topics_come_first_without_repeats() -> None:
    found = matcher().topics_for("AI referees at the Olympic games", "", ("world", "sports", "world"))
    assert found == ("world", "sports", "tech")


def test_several_topics_at_once_in_configured_order() -> None:
    found = matcher().topics_for("Olympic village hit by 台风", "<p>AI forecasts failed.</p>", ())
    assert found == ("tech", "sports", "china-asia")


def test_topic_without_keywords_never_matches() -> None:
    assert "science" not in matcher().topics_for("science science", "", ())


def test_cjk_keyword_matches_inside_sentence() -> None:
    assert matcher(CHINA).topics_for("强台风森白在福建沿海登陆", "", ()) == ("china-asia",)


def test_no_keywords_no_topics() -> None:
    assert matcher().topics_for("Parliament passes budget", "<p>Vote was 301 to 250.</p>", ()) == ()


def test_phrase_does_not_match_across_title_and_summary() -> None:
    found = matcher(SPORTS).topics_for("Fans celebrate across the world", "<p>Cup holders arrive home.</p>", ())
    assert found == ()
