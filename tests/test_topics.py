"""TopicMatcher: whole-word and phrase keywords, case-insensitive, source topics first."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.topics import TopicMatcher, _Terms
from aggregator.types import ItemFacts, Topic


def facts(title: str, summary: str = "", source_topics: tuple[str, ...] = (), **more: object) -> ItemFacts:
    return ItemFacts(title=title, summary_html=summary, source_topics=source_topics, **more)  # type: ignore[arg-type]


TECH = Topic("tech", "Tech", ("AI", "semiconductor"))
SPORTS = Topic("sports", "Sports", ("world cup", "olympic"))
CHINA = Topic("china-asia", "China & Asia", ("台风",))
SCIENCE = Topic("science", "Science", ())


def matcher(*topics: Topic) -> TopicMatcher:
    return TopicMatcher(topics or (TECH, SPORTS, CHINA, SCIENCE))


@pytest.mark.parametrize("title", ["AI chips sell out", "New rules for AI", "Chipmakers bet on AI-powered phones"])
def test_keyword_matches_as_whole_word(title: str) -> None:
    assert matcher(TECH).topics_for(facts(title, "", ())) == ("tech",)


@pytest.mark.parametrize("title", ["Minister said talks stalled", "Taiwan holds local elections", "Rain in Dubai"])
def test_keyword_does_not_match_inside_other_words(title: str) -> None:
    assert matcher(TECH).topics_for(facts(title, "", ())) == ()


@pytest.mark.parametrize("title", ["World Cup draw in Doha", "World  Cup draw", "Hosts ready for the world\tcup"])
def test_phrase_matches_with_flexible_whitespace(title: str) -> None:
    assert matcher(SPORTS).topics_for(facts(title, "", ())) == ("sports",)


def test_phrase_needs_all_its_words_together() -> None:
    assert matcher(SPORTS).topics_for(facts("World leaders meet; cup final delayed", "", ())) == ()


@pytest.mark.parametrize("title", ["OLYMPIC TORCH LIT", "olympic torch lit", "Olympic torch lit"])
def test_keywords_match_case_insensitively(title: str) -> None:
    assert matcher(SPORTS).topics_for(facts(title, "", ())) == ("sports",)


def test_keyword_in_summary_text_matches() -> None:
    summary = "<p>Regulators publish new <strong>AI</strong> guidance.</p>"
    assert matcher(TECH).topics_for(facts("Quiet day in Brussels", summary, ())) == ("tech",)


@pytest.mark.parametrize(
    "summary",
    ['<p><a href="https://example.com/ai" title="AI">Read more</a></p>', '<p><img src="x.png" alt="AI"></p>'],
)
def test_keyword_inside_html_attribute_does_not_match(summary: str) -> None:
    assert matcher(TECH).topics_for(facts("Quiet day in Brussels", summary, ())) == ()


def test_source_topics_come_first_without_repeats() -> None:
    found = matcher().topics_for(facts("AI referees at the Olympic games", "", ("world", "sports", "world")))
    assert found == ("world", "sports", "tech")


def test_several_topics_at_once_in_configured_order() -> None:
    found = matcher().topics_for(facts("Olympic village hit by 台风", "<p>AI forecasts failed.</p>", ()))
    assert found == ("tech", "sports", "china-asia")


def test_topic_without_keywords_never_matches() -> None:
    assert "science" not in matcher().topics_for(facts("science science", "", ()))


def test_cjk_keyword_matches_inside_sentence() -> None:
    assert matcher(CHINA).topics_for(facts("强台风森白在福建沿海登陆", "", ())) == ("china-asia",)


def test_no_keywords_no_topics() -> None:
    assert matcher().topics_for(facts("Parliament passes budget", "<p>Vote was 301 to 250.</p>", ())) == ()


def test_phrase_does_not_match_across_title_and_summary() -> None:
    found = matcher(SPORTS).topics_for(facts("Fans celebrate across the world", "<p>Cup holders arrive home.</p>", ()))
    assert found == ()


# Rules, second version: patterns, exclude terms, sources, feed categories, languages, global exclude.

MOTOR = Topic(
    "motorsport",
    "Motorsport",
    keywords=("grand prix",),
    patterns=(r"\bF1\b", r"formula (one|1)"),
    exclude=("esports",),
    sources=("https://motor.example/feed.xml", "Pit Lane Daily"),
    categories=("Motor Racing",),
    languages=("en",),
)


@pytest.mark.parametrize("title", ["F1 season opens in Bahrain", "Formula One returns to Kyalami", "formula 1 rules"])
def test_pattern_matches_case_insensitively(title: str) -> None:
    assert TopicMatcher((MOTOR,)).topics_for(facts(title)) == ("motorsport",)


def test_exclude_term_keeps_an_item_out_even_when_a_keyword_matches() -> None:
    verdict = TopicMatcher((MOTOR,)).explain(facts("Grand Prix of esports draws record crowd"))[0]
    assert not verdict.joined
    assert verdict.reason == "exclude matched 'esports'"


def test_source_named_by_url_or_name_joins_whatever_the_headline() -> None:
    matcher = TopicMatcher((MOTOR,))
    by_url = facts("Team unveils new car", source_url="https://motor.example/feed.xml")
    by_name = facts("Team unveils new car", source_name="pit lane daily")
    assert matcher.topics_for(by_url) == ("motorsport",)
    assert matcher.explain(by_name)[0].reason == "its source is in sources"


def test_feed_category_joins_case_insensitively() -> None:
    verdict = TopicMatcher((MOTOR,)).explain(facts("Team unveils new car", categories=("motor racing", "Autos")))[0]
    assert verdict.joined
    assert verdict.reason == "its feed category 'motor racing' is in categories"


@pytest.mark.parametrize(("language", "joins"), [("en-GB", True), ("EN", True), (None, True), ("de", False)])
def test_languages_filter_by_language_not_region(language: str | None, joins: bool) -> None:
    found = TopicMatcher((MOTOR,)).topics_for(facts("F1 season opens", language=language))
    assert (found == ("motorsport",)) is joins


def test_global_exclude_keeps_an_item_out_of_every_rule_topic_but_not_its_source_topics() -> None:
    matcher = TopicMatcher((MOTOR, TECH), global_exclude=("sponsored",))
    item = facts("Sponsored: the AI that wins F1 races", source_topics=("world",))
    assert matcher.topics_for(item) == ("world",)
    reasons = {v.slug: v.reason for v in matcher.explain(item)}
    assert reasons["tech"] == "[topic_rules] exclude matched 'sponsored'"
    assert reasons["world"] == "its source was added with --topic"


def test_explain_names_the_deciding_rule_for_every_topic() -> None:
    verdicts = TopicMatcher((TECH, SPORTS, SCIENCE)).explain(facts("AI referees at the Olympic games"))
    assert [(v.slug, v.joined, v.reason) for v in verdicts] == [
        ("tech", True, "keyword 'AI' matched"),
        ("sports", True, "keyword 'olympic' matched"),
        ("science", False, "it has no rules"),
    ]


_WORDS = st.sampled_from(
    ["oil", "Oil", "OIL", "u.s.", "U.S.", "covid-19", "Rate", "rates", "été", "ÉTÉ", "中文", "新闻"]
)
_TEXT = st.lists(st.one_of(_WORDS, st.text(alphabet="abcéß.-_ 1中", max_size=6)), max_size=12).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(terms=st.lists(st.lists(_WORDS, min_size=1, max_size=3).map(" ".join), min_size=1, max_size=5), text=_TEXT)
def test_the_first_word_filter_never_changes_a_match(terms: list[str], text: str) -> None:
    # The filter only skips texts the full pattern cannot match: the answer is the pattern's own.
    compiled = _Terms(terms)
    assert compiled.pattern is not None
    match = compiled.pattern.search(text)
    expected = compiled.terms[match.lastindex - 1] if match and match.lastindex else None
    assert compiled.find([text]) == expected
