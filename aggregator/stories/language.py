"""Which language a report is in, and what is particular to its script: where Chinese and
Japanese text splits into chunks, Chinese characters read in Latin letters (`romanise`), Arabic
letter variants folded and Arabic articles and suffixes dropped."""

from __future__ import annotations

import re

from aggregator.stories import romanise

# "China's": an English possessive, dropped from words and names, and a sign of English.
POSSESSIVE = re.compile(r"(?<=\w)['\u2019]s\b")
# Chinese, Japanese and Korean script.
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_CJK_RUN = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+)")
_HIRAGANA = re.compile(r"[\u3040-\u309f]+")
# Chinese function characters: a character pair across one of them says nothing about the event.
_CJK_STOP = re.compile(r"[的了在和与及是将已]+")
ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ـ": None})
ARABIC = re.compile(r"[\u0600-\u06ff]")
_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_ARABIC_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LETTERS = re.compile(r"[^\W\d_]+")
# Words and letters that tell which language a text in Latin letters is in: function words of one
# language only (a headline keeps a few: "tras", "après", "bei"), and letters only it uses.
LANGUAGE_WORDS = {
    "en": frozenset("the of to for on as after with and at from by over is are was amid into its".split()),
    "es": frozenset("el los las del y por con tras una al su sus se que ya son".split()),
    "fr": frozenset("le les des du une et sur pour dans au aux après avec est l d qu".split()),
    "de": frozenset("der die das und im mit von bei nach für auf den dem ein eine zum zur ist nicht ab".split()),
    "pt": frozenset("o os da do das dos em com após na uma".split()),
}
LANGUAGE_LETTERS = {"es": "ñ¿¡", "fr": "çœèêë", "de": "ßäöü", "pt": "ãõ"}


def cjk_chunks(word: str) -> list[str]:
    """A word split where Chinese or Japanese text meets other letters, at Japanese hiragana
    (particles and endings) and at Chinese function characters."""
    chunks: list[str] = []
    for part in _CJK_RUN.split(word):
        if not part:
            continue
        if CJK.match(part):
            chunks.extend(_CJK_STOP.sub(" ", _HIRAGANA.sub(" ", part)).split())
        else:
            chunks.append(part)
    return chunks


def arabic_stem(word: str) -> str:
    """A light stem of an Arabic word: without its article ("ال", "وال", ...) and one suffix."""
    for prefix in _ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            word = word[len(prefix) :]
            break
    for suffix in _ARABIC_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def readings_of(text: str) -> tuple[str, ...]:
    """The character pairs of a text's Chinese characters, read in Latin letters, in order."""
    chunks = (chunk for chunk in cjk_chunks(text) if CJK.match(chunk))
    return tuple(dict.fromkeys(reading for chunk in chunks for reading in romanise.name_readings(chunk)))


def language_of(title: str, summary: str) -> str:
    """A report's language as its script tells (Japanese kana, Korean, Chinese characters, Arabic),
    else as its function words and letters do ("tras", "ñ": Spanish); "" when they do not."""
    for script, language in ((_KANA, "ja"), (_HANGUL, "ko"), (CJK, "zh"), (ARABIC, "ar")):
        if script.search(title):
            return language
    text = f"{title} {summary}"
    words = [word for word in _LETTERS.findall(text) if word.islower()]  # "Las Vegas" is not Spanish
    text = text.lower()
    scores = {
        language: sum(word in function_words for word in words)
        + sum(letter in text for letter in LANGUAGE_LETTERS.get(language, ""))
        for language, function_words in LANGUAGE_WORDS.items()
    }
    scores["en"] += len(POSSESSIVE.findall(text))  # "China's"
    best = max(scores.values())
    leaders = [language for language, value in scores.items() if value == best]
    return leaders[0] if best and len(leaders) == 1 else ""
