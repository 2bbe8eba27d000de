"""How a report's text becomes what story matching compares: its headline normalised, and its
words, tokens, figures and names, in headline and summary (`Headline`).

A headline is normalised (case, accents, punctuation and wire decorations such as "UPDATE 2-"
and " | Outlet" removed); words are matched in one spelling (stop words dropped, light stemming,
one spelling for units, figures and a few headline words; character pairs for Chinese and
Japanese; Arabic letter variants, articles and suffixes folded); names are runs of capitalised words.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from aggregator.stories import aliases
from aggregator.stories.language import (
    ARABIC,
    ARABIC_FOLD,
    CJK,
    POSSESSIVE,
    arabic_stem,
    cjk_chunks,
    language_of,
    readings_of,
)

# Wire decorations, as agencies and broadcasters write them (after NFKC, which makes full-width
# forms plain): revision and kind slugs (Reuters "UPDATE 2-", "REFILE-", "FACTBOX-"; AP "Live
# updates:", "Correction:"; Xinhua "Roundup:", "Xinhua Headlines:"; dpa "Eilmeldung:"; EFE
# "Última hora:"; AFP "EN DIRECT -"), Yonhap's "(LEAD)", "(2nd LD)", "(URGENT)", "(News Focus)",
# Kyodo's "【速報】" and a Chinese column before a bar ("新华全媒+|"). They tell a revision or a
# kind of piece, never which event.
_WIRE_PREFIX = re.compile(
    r"^\s*(?:(?:UPDATE|REFILE|CORRECTED|EXCLUSIVE|RPT|WRAPUP|ANALYSIS|FACTBOX|INSTANT VIEW|EXPLAINER|ROUNDUP)"
    r"(?:\s*\d+)?\s*[-:]\s*"
    r"|(?:BREAKING|Breaking|Roundup|Update|Live|Live updates|LIVE|Correction|CORRECTION|Explainer|Feature|"
    r"Interview|Analysis|Factbox|Urgente|URGENTE|ÚLTIMA HORA|Última hora|Eilmeldung|EILMELDUNG|EN DIRECT|"
    r"En direct|URGENT|Urgent|FLASH|Flash|(?!Newspaper )[A-Z][a-z]+ Headlines)\s*[:\-\u2013\u2014]\s*"
    r"|\((?:LEAD|URGENT|2ND LEAD|\d+(?:st|nd|rd|th) LD|News Focus|[A-Z]\w* Interview)\)\s*"
    r"|\u3010[^\u3011]{1,8}\u3011\s*"
    r"|[\u3040-\u30ff\u4e00-\u9fff+]{1,10}\|\s*)+"
)
_WIRE_TAG = re.compile(r"\s*\((?:LEAD|URGENT|UPDATE\s*\d*|\d+(?:st|nd|rd|th) LD)\)\s*")
# " - Meridian Wire": a capitalised tail without digits (" - Magnitude 6" is news, not an outlet).
_OUTLET_SUFFIX = re.compile(r"\s+[|\u2013\u2014-]\s+[A-Z][^|\u2013\u2014\d]{0,40}$")
_PIPE_SUFFIX = re.compile(r"\s+\|\s+[^|]{1,60}$")
# Who said it, at the end: Reuters " -sources", " -EMSC", " - statement"; Yonhap ": JCS";
# Kyodo's credit line "=共同".
_ATTRIBUTION = re.compile(r"(?:\s+-\s*[^\W\d][^\d|\-\u2013\u2014]{0,30}|:\s+[A-Z]{2,6}|\s*=\s*\S{1,8})$")
# A broadcaster's live page: "Cyclone Kerrin live: storm crosses coast" reads as its story.
_LIVE_PAGE = re.compile(r"(?<=\w)\s+(?:live|LIVE)(?=\s*:)")
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
# A headline's main clause ends at the word that gives its cause: "Stocks rise after Fed holds".
_CAUSE = re.compile(r"\s(?:after|following|amid|tras|après|apres|nach|infolge)\s", re.IGNORECASE)
_HYPHENATED = re.compile(r"(?<=[^\W\d])-(?=[^\W\d])")
# A review of the day's newspapers, as broadcasters and agencies title it (BBC "Newspaper headlines:",
# "The Papers:", AFP "Press review:", "Revue de presse", dpa "Presseschau", EFE "Revista de prensa",
# ANSA "Rassegna stampa"): it lists other stories and tells none.
_PRESS_REVIEW = re.compile(
    r"^\s*(?:newspaper headlines|the papers|press review|press preview|what the papers say|revue de presse|"
    r"presseschau|pressestimmen|revista de prensa|rassegna stampa)\s*[:\-\u2013\u2014|]",
    re.IGNORECASE,
)
# A headline in Chinese or Japanese this short (in characters) names no particular event.
MIN_CJK_CHARS = 6

STOP_WORDS = frozenset(
    """a an the of in on at to for from by with as and or but is are was were be been has have had
    it its this that these those after before over under into out up down about amid than then
    says said say tells told report reports reported new latest will would could can may more not no
    el la los las de del y en un una por para con al le les des du et une pour dans sur au aux lo su
    sus se que l d qu il est son sa ses leur o os as do da dos das na em ao e
    der die das und im ein eine mit von zu auf für dem den bei nach am um vom zum zur ist
    في من علي الي عن مع""".split()
)
# One spelling for what wires spell many ways: units and figures ...
UNITS = {
    "bln": "bn", "billion": "bn", "billions": "bn", "mln": "mn", "million": "mn", "millions": "mn",
    "trln": "tn", "trillion": "tn", "pct": "percent", "prozent": "percent", "%": "percent",
    "nanometre": "nm", "nanometer": "nm", "kilometre": "km", "kilometer": "km", "kilometres": "km",
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10",
    "jan": "january", "feb": "february", "apr": "april", "aug": "august", "sep": "september",
    "sept": "september", "oct": "october", "nov": "november", "dec": "december",
}  # fmt: skip
# ... and words headlines use for one thing.
HEADLINE_WORDS = {
    "quake": "earthquake", "quakes": "earthquake", "tremor": "earthquake",
    "axe": "cut", "axes": "cut", "slash": "cut", "slashes": "cut", "shed": "cut", "sheds": "cut",
    "hike": "raise", "hikes": "raise", "accord": "deal", "pact": "deal", "agreement": "deal",
    "jobless": "unemployment",
}  # fmt: skip
SYNONYMS = UNITS | HEADLINE_WORDS | {"usa": "us", "uk": "britain", "britains": "britain"}
# Capitalised in English, yet they name no one: a month or a weekday is not an actor of the story.
# So is a unit or a word of HEADLINE_WORDS, capitalised as every German noun is ("2,6 Prozent").
CALENDAR = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday""".split()
)
NOT_NAMES = CALENDAR | frozenset(UNITS.values()) | frozenset(HEADLINE_WORDS.values())
# After a figure, a single letter is a scale: "$480m", "3m years".
SCALE_LETTERS = {"m": "mn", "b": "bn", "k": "thousand"}
# A headline of fewer words than this names no particular event.
MIN_MATCH_TOKENS = 3
# Names are alike when equal or when they share this many first letters ("Sweden" / "Swedish").
NAME_PREFIX = 4
# A headline with this many commas lists several stories.
DIGEST_COMMAS = 2
_Runs = tuple[tuple[str, ...], ...]
# Figures with thousands separators or decimal commas ("2,000", "2.000", "6,4"), a per cent sign,
# words (letters, with inner hyphens and apostrophes), and runs of other digits.
_PIECE = re.compile(r"[A-Za-z]+-?\d[A-Za-z\d]*(?:\.\d+)?|\d+(?:[.,]\d+)*|%|[^\W\d_]+(?:['’-][^\W\d_]+)*")
_DIGIT = re.compile(r"\d")
_ACRONYM = re.compile(r"(?<![\w.])((?:[^\W\d_]\.){2,})(?!\w)")
_WORD_START = re.compile(r"(?<![\w'’-])[^\W\d_][\w'’-]*")
_SENTENCE_START = re.compile(r"(?:^\s*|[.!?;:]\s+)([\w'’-]+)")
_CJK_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"两": 2, "〇": 0}
_CJK_UNITS = {"十": 10, "百": 100, "千": 1000}
_CJK_NUMERAL = re.compile(r"[零〇一二两三四五六七八九]*[十百千][零〇一二两三四五六七八九十百千]*")
# A French elided article or pronoun: "l'Assemblée" names the Assemblée, "d'Abidjan" Abidjan.
_ELISION = re.compile(r"(?<![\w'’])(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’](?=[^\W\d_])", re.IGNORECASE)
FIGURE = re.compile(r"\d+(?:\.\d+)?")
_NOT_LATIN = re.compile(r"[^a-z]+")


@dataclass(frozen=True)
class Headline:
    """What story matching knows of a report: its words, figures and names, in headline and summary.

    Built by `headline`. Words and figures are worked out at once; names, which only a report
    that shares words with another needs, when first asked for:

    - `names`: the headline's capitalised words; `places`: the same without the first word
      (capitalised whatever it is); `entities`: the headline's runs of capitalised words
      ("Castlegate Rovers"); `first`: its first word, if capitalised;
    - `capitalised`: the words capitalised anywhere but at the start of the headline or of a
      sentence; `summary_names`: the summary's capitalised words but the first of each sentence;
    - `mentions`: every word of headline and summary, and `has_initials` whether a word is the
      initials of a run of them ("New Zealand": "nz"), for telling whether a name of another
      report is mentioned here;
    - `subject`: the first character pair of a Chinese or Japanese headline, its place or actor."""

    text: str
    tokens: frozenset[str]
    numbers: frozenset[str]
    summary_tokens: frozenset[str] = frozenset()
    summary_numbers: frozenset[str] = frozenset()
    subject: str = ""
    title: str = ""
    summary: str = ""
    words: tuple[str, ...] = ()

    def stored(self) -> StoredHeadline:
        """This headline as the story index keeps it (`StoredHeadline`)."""
        return StoredHeadline(
            self.text,
            self.title,
            self.summary,
            _interned(self.tokens),
            _interned(self.numbers),
            _interned(self.summary_tokens),
            _interned(self.summary_numbers),
            self.subject,
            _interned(frozenset(self.words) - self.tokens - self.summary_tokens),
            len(self.tokens | self.summary_tokens),  # not all_tokens: that would be kept
        )

    @functools.cached_property
    def all_tokens(self) -> frozenset[str]:
        """Headline and summary tokens together."""
        return self.tokens | self.summary_tokens

    @functools.cached_property
    def clauses(self) -> tuple[frozenset[str], frozenset[str]]:
        """The headline's tokens before and after its first word of cause ("Stocks rise | after Fed
        holds rates"): what happened, and what it followed. Without such a word, all and none."""
        found = _CAUSE.search(self.title)
        if not found:
            return self.tokens, frozenset()
        return _tokens(_words(self.title[: found.start()])[0]), _tokens(_words(self.title[found.end() :])[0])

    @functools.cached_property
    def cased(self) -> bool:
        """False for a headline in capitals or Title Case, where case tells no name from a word."""
        return not _caseless(self.title)

    # Headline and summary runs apart: candidate keys need only the headline's, and most reports
    # are never compared closely enough to need the summary's.
    @functools.cached_property
    def _title_runs(self) -> tuple[_Runs, _Runs]:
        entities, later = _entities(self.title)
        return entities, later if self.cased else ()

    @functools.cached_property
    def _summary_runs(self) -> tuple[_Runs, _Runs]:
        return _entities(self.summary)

    @property
    def entities(self) -> _Runs:
        return self._title_runs[0]

    @functools.cached_property
    def names(self) -> frozenset[str]:
        return frozenset(word for entity in self.entities for word in entity)

    @functools.cached_property
    def places(self) -> frozenset[str]:
        return frozenset(word for entity in self._title_runs[1] for word in entity)

    @functools.cached_property
    def summary_names(self) -> frozenset[str]:
        return frozenset(word for entity in self._summary_runs[1] for word in entity)

    @functools.cached_property
    def first(self) -> str:
        found = _WORD_START.search(self.title)
        return _name_form(found.group(0)) if self.cased and found and found.group(0)[0].isupper() else ""

    @functools.cached_property
    def capitalised(self) -> frozenset[str]:
        later, summary_entities = self._title_runs[1], self._summary_runs[0]
        found = _WORD_START.search(self.title)
        first_word = {_name_form(found.group(0))} if self.cased and found and name_like(found.group(0)) else set()
        return frozenset(word for entity in later + summary_entities for word in entity) | first_word

    @functools.cached_property
    def mentions(self) -> frozenset[str]:
        raw = (_name_form(word) for word in _WORD_START.findall(f"{self.title} {self.summary}"))
        return frozenset(self.words).union(raw)

    @functools.cached_property
    def initials(self) -> tuple[str, str]:
        return _initials(f"{self.title} {self.summary}")

    @functools.cached_property
    def name_prefixes(self) -> frozenset[str]:
        """The first letters of the headline's names, as story matching compares them."""
        return frozenset(name[:NAME_PREFIX] for name in self.names)

    @functools.cached_property
    def language(self) -> str:
        """The language the report is in, as far as its script and words tell ("" when they do not)."""
        return language_of(self.title, self.summary)

    @functools.cached_property
    def figures(self) -> frozenset[str]:
        """The headline's telling figures (two digits or more), those inside a name too ("M6.1",
        "Yaogan-45"): what a report of the same story in another language gives alike."""
        inside = (figure for token in self.tokens if not token.isdigit() for figure in FIGURE.findall(token))
        return frozenset(number for number in self.numbers.union(inside) if telling(number))

    @functools.cached_property
    def latin_names(self) -> frozenset[str]:
        """The headline's capitalised words in plain Latin letters ("aerolux", "mercosur", "vegax"):
        what a report in another language can share. The first word counts too: in two languages,
        one first word is rarely a word of both ("Aerolux streicht 2.000 Stellen" / "Aerolux to cut
        2,000 jobs")."""
        words = (word for entity in self.entities for word in entity)
        return plain_latin(words)

    @functools.cached_property
    def readings(self) -> tuple[str, ...]:
        """A Chinese headline's character pairs read in Latin letters ("senbai", "fujian"), in order."""
        return readings_of(self.title) if CJK.search(self.title) and self.language == "zh" else ()

    @functools.cached_property
    def latin_mentions(self) -> tuple[frozenset[str], frozenset[str]]:
        """Every word of headline and summary in plain Latin letters, and a Chinese report's
        character pairs read so: where a name of a report in another language is looked for."""
        readings = frozenset(self.readings + readings_of(self.summary)) if self.readings else frozenset()
        return plain_latin(self.mentions), readings

    @functools.cached_property
    def digest(self) -> bool:
        """A headline listing several stories: "Daily briefing: Kerala floods, Harbourline deal, Vega-X
        failure", or a review of the day's papers ("Newspaper headlines: Storm warning and rail fares row")."""
        return self.title.count(", ") >= DIGEST_COMMAS or bool(_PRESS_REVIEW.match(self.title))

    def work_out_names(self) -> Headline:
        """Work out now what is otherwise worked out when first compared: the parser processes do
        it for every new report, so that the one thread that matches stories does not."""
        for name in (
            "all_tokens",
            "names",
            "places",
            "summary_names",
            "first",
            "capitalised",
            "mentions",
            "initials",
            "digest",
            "name_prefixes",
            "language",
            "figures",
            "latin_names",
            "readings",
            "latin_mentions",
        ):
            getattr(self, name)
        return self

    def has_initials(self, word: str) -> bool:
        """Whether `word` (2 to 5 letters) is the initials of a run of this report's words."""
        return 2 <= len(word) <= 5 and any(word in letters for letters in self.initials)

    @functools.cached_property
    def specific(self) -> bool:
        """False for "Live updates", "In pictures", "台风登陆": too few words to name one event."""
        return specific(self.text, self.tokens)


def specific(text: str, tokens: Collection[str]) -> bool:
    """Does a headline (its normalised text and tokens) name one particular event (`Headline.specific`)?"""
    if CJK.search(text):
        return len(text.replace(" ", "")) >= MIN_CJK_CHARS
    return len(tokens) >= MIN_MATCH_TOKENS


class StoredHeadline(NamedTuple):
    """A headline as the story index keeps it for every report of the window: its texts, and its
    words in tuples of strings shared with every other headline's (interned). A frozenset takes
    about eight times the memory of a tuple of the same words, and the names and mentions that
    comparing works out take more again; `headline` gives the `Headline` back, to compare (its
    words as a set: what `Headline.mentions` reads of them)."""

    text: str
    title: str
    summary: str
    tokens: tuple[str, ...]
    numbers: tuple[str, ...]
    summary_tokens: tuple[str, ...]
    summary_numbers: tuple[str, ...]
    subject: str
    other_words: tuple[str, ...]  # words that are not tokens: runs of Chinese or Japanese characters
    all_count: int  # tokens of headline and summary together (`Headline.all_tokens`)

    def headline(self) -> Headline:
        return Headline(
            self.text,
            frozenset(self.tokens),
            frozenset(self.numbers),
            frozenset(self.summary_tokens),
            frozenset(self.summary_numbers),
            self.subject,
            self.title,
            self.summary,
            self.tokens + self.summary_tokens + self.other_words,
        )


def _interned(words: frozenset[str]) -> tuple[str, ...]:
    return tuple(sys.intern(word) for word in words)


def headline(title: str, summary: str = "") -> Headline:
    """A report's headline (and summary text) prepared for matching."""
    stripped = _prepared(_strip_decorations(unicodedata.normalize("NFKC", title).strip()))
    summary = _prepared(unicodedata.normalize("NFKC", summary).strip())
    words, numbers = _words(stripped)
    summary_words, summary_numbers = _words(summary)
    return Headline(
        text=normalise_headline(title),
        tokens=_tokens(words),
        numbers=numbers,
        summary_tokens=_tokens(summary_words),
        summary_numbers=summary_numbers,
        subject=_subject(words),
        title=stripped,
        summary=summary,
        words=tuple(words + summary_words),
    )


def text_digest(title: str, summary: str) -> int:
    """A 64-bit digest of the title and summary (as stored) a headline is prepared from."""
    data = f"{title}\0{summary}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def normalise_headline(title: str) -> str:
    """Case, accents, punctuation and wire decorations removed; words separated by one space."""
    text = _strip_decorations(unicodedata.normalize("NFKC", title).strip())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    no_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    joined = _HYPHENATED.sub("", POSSESSIVE.sub("", no_marks))
    return _NON_WORD.sub(" ", joined).strip()


# Words, figures and names ---------------------------------------------------------------------


def _prepared(text: str) -> str:
    """A text with "U.N." written "UN", institutions by their short names ("Federal Reserve" is
    "Fed"), Chinese numerals in digits and French elisions dropped."""
    return _ELISION.sub("", _cjk_numerals(aliases.short_names(_join_acronyms(text))))


def _cjk_numerals(text: str) -> str:
    """Chinese and Japanese numerals with a ten, hundred or thousand written in digits: "四十五号"
    is "45号", as "遥感四十五号" and "遥感四十六号" are different satellites."""

    def value(found: re.Match[str]) -> str:
        total = current = 0
        for ch in found.group(0):
            if ch in _CJK_UNITS:
                total += (current or 1) * _CJK_UNITS[ch]
                current = 0
            else:
                current = _CJK_DIGITS[ch]
        return str(total + current)

    return _CJK_NUMERAL.sub(value, text)


def _join_acronyms(text: str) -> str:
    """ "U.N." written "UN"."""
    return _ACRONYM.sub(lambda found: found.group(1).replace(".", ""), text)


@functools.lru_cache(maxsize=1 << 16)
def _fold_text(text: str) -> str:
    """Case, accents and Arabic letter variants folded; "U.N." written "UN"."""
    text = _join_acronyms(text)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", folded).translate(ARABIC_FOLD)


def _words(text: str) -> tuple[list[str], frozenset[str]]:
    """The words of a text in matching form, and its figures. In a text with lower-case letters,
    an acronym is kept even when it spells a stop word ("UN", "US")."""
    words: list[str] = []
    numbers: set[str] = set()
    if not text:
        return words, frozenset()
    previous_number = False
    text = POSSESSIVE.sub("", _join_acronyms(text))
    cased = text.upper() != text
    for piece in _PIECE.findall(text):
        if piece[0].isdigit():
            number = _number(piece)
            words.append(number)
            numbers.add(number)
            previous_number = True
        elif piece == "%":
            if previous_number:
                words.append("percent")
        else:
            scale = SCALE_LETTERS.get(piece.lower()) if previous_number else None
            word = scale or _word_form(piece, cased)
            previous_number = False
            if word.isdigit():
                words.append(word)
                numbers.add(word)
            elif word:
                words.append(word)
    return words, frozenset(numbers)


@functools.lru_cache(maxsize=1 << 16)
def _word_form(piece: str, cased: bool) -> str:
    """One word of a text in matching form ("" for a stop word). In a text with lower-case letters,
    an acronym is kept even when it spells a stop word ("UN", "US")."""
    acronym = cased and 2 <= len(piece) <= 5 and piece.isalpha() and piece.isupper()
    word = _HYPHENATED.sub("", _fold_text(piece)).replace("'", "").replace("’", "")
    if not word.isalpha() and _DIGIT.search(word):
        word = word.replace("-", "")
    word = SYNONYMS.get(word, word)
    if acronym or word.isdigit():
        return word
    return "" if word in STOP_WORDS else _stem(word)


def _number(piece: str) -> str:
    """A figure in one spelling: "2,000" and "2.000" are 2000, "6,4" and "6.40" are 6.4."""
    digits = "".join(str(unicodedata.decimal(ch, 0)) if ch.isdigit() else ch for ch in piece)
    groups = re.split(r"[.,]", digits)
    if len(groups) > 1 and all(len(group) == 3 for group in groups[1:]):
        return str(int("".join(groups)))
    whole, fraction = "".join(groups[:-1]) if len(groups) > 1 else groups[0], groups[-1] if len(groups) > 1 else ""
    fraction = fraction.rstrip("0")
    return f"{int(whole)}.{fraction}" if fraction else str(int(whole))


def _tokens(words: list[str]) -> frozenset[str]:
    """Matching tokens: words, and character pairs for scripts written without spaces."""
    tokens: set[str] = set()
    for word in words:
        if not CJK.search(word):
            tokens.add(word)
            continue
        for chunk in cjk_chunks(word):
            if CJK.match(chunk):
                tokens.update(chunk[i : i + 2] for i in range(max(1, len(chunk) - 1)))
            else:
                tokens.add(chunk)
    return frozenset(tokens)


@functools.lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    """Light stemming for words in Latin letters ("restructures", "restructuring"); Arabic articles
    and suffixes; other scripts as they are."""
    if ARABIC.match(word):
        return arabic_stem(word)
    if not word.isascii() or not word.isalpha() or len(word) <= 3:
        return word
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith(("ed", "es")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


_NOT_NAME_FORMS = NOT_NAMES | frozenset(_stem(word) for word in NOT_NAMES)
# A date or a unit tells when or how much, not what happened.
NOT_EVENTS = frozenset(_stem(word) for word in CALENDAR | frozenset(UNITS.values()))


def _entities(text: str) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]:
    """Runs of consecutive capitalised words, each in matching form ("Castlegate Rovers"): all of
    them, and those left without the first word of each sentence (capitalised whatever it is). In a
    text written in capitals or Title Case, where case tells nothing, every word on its own."""
    if not text:
        return (), ()
    text = _join_acronyms(text)
    caseless = _caseless(text)
    starts = {found.start(1) for found in _SENTENCE_START.finditer(text)}
    everything: list[tuple[str, ...]] = []
    later: list[tuple[str, ...]] = []
    run: list[str] = []
    later_run: list[str] = []
    end = -1
    for found in _WORD_START.finditer(text):
        word = found.group(0)
        if run and (caseless or not word[0].isupper() or text[end : found.start()].strip()):
            everything.append(tuple(run))
            run = []
        if later_run and (caseless or not word[0].isupper() or text[end : found.start()].strip()):
            later.append(tuple(later_run))
            later_run = []
        if word[0].isupper():
            name = _name_form(word)
            acronym = not caseless and 2 <= len(word) <= 5 and word.isalpha() and word.isupper()
            if name and (acronym or name not in STOP_WORDS) and name not in _NOT_NAME_FORMS:
                run.append(name)
                if found.start() not in starts:
                    later_run.append(name)
        end = found.end()
    everything.extend([tuple(run)] if run else [])
    later.extend([tuple(later_run)] if later_run else [])
    return tuple(everything), tuple(later)


def telling(number: str) -> bool:
    """A figure of two digits or more tells one event from another ("2-1" could be any match)."""
    return len(number.replace(".", "")) > 1


def plain_latin(words: Iterable[str]) -> frozenset[str]:
    """Words in plain Latin letters ("vega-x" is "vegax"), those of two letters or more."""
    return frozenset(plain for word in words if len(plain := _NOT_LATIN.sub("", word)) >= 2)


def _caseless(text: str) -> bool:
    """Is the text written in capitals, or in Title Case (every word of four letters or more capitalised)?"""
    if text.upper() == text:
        return text.lower() != text
    long_words = [word for word in _WORD_START.findall(text) if len(word) >= 4]
    return len(long_words) >= 3 and all(word[0].isupper() for word in long_words)


def name_like(word: str) -> bool:
    """A name wherever it stands: a word with a digit or a second capital ("COP31", "EU", "McKinsey"),
    or a possessive ("Senegal's president")."""
    return any(ch.isdigit() or ch.isupper() for ch in word[1:]) or bool(POSSESSIVE.search(word))


def _initials(text: str) -> tuple[str, str]:
    """The first letters of a text's words, with and without its stop words: the initials of a run
    of words are a slice of one of them (kept as two strings: the set of every slice of two to five
    letters took 17 KB a report)."""
    words = [_fold_text(word) for word in _WORD_START.findall(text)]
    letters = "".join(word[0] for word in words)
    return letters, "".join(word[0] for word in words if word not in STOP_WORDS)


def _subject(words: list[str]) -> str:
    """The first character pair of a Chinese or Japanese headline ("" for other scripts)."""
    for word in words:
        if CJK.search(word):
            for chunk in cjk_chunks(word):
                if len(chunk) >= 2 and CJK.match(chunk):
                    return chunk[:2]
    return ""


@functools.lru_cache(maxsize=1 << 16)
def _name_form(word: str) -> str:
    """A capitalised word as it is compared with another report's words."""
    folded = _fold_text(POSSESSIVE.sub("", word))
    folded = _HYPHENATED.sub("", folded).strip("'’-").replace("'", "").replace("’", "")
    folded = SYNONYMS.get(folded, folded)
    return _stem(folded) if folded.isalpha() else folded


def _strip_decorations(text: str) -> str:
    text = _WIRE_PREFIX.sub("", text)
    text = _WIRE_TAG.sub(" ", text)
    text = _LIVE_PAGE.sub("", text)
    text = _PIPE_SUFFIX.sub("", text)
    text = _OUTLET_SUFFIX.sub("", text)
    return _ATTRIBUTION.sub("", text)
