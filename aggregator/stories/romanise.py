"""Chinese characters in Latin letters (pinyin without tones), so that a name told in Chinese meets
the same name told in a language written in Latin letters: 森白 is "senbai", 福建 "fujian".

The readings are pypinyin's table of characters (its `pinyin_dict.json`), read as data: importing
pypinyin itself loads its phrase dictionary too, 57 MB in every process that matches stories,
where this table takes 8 MB (read in 0.16 s, when the first Chinese report comes). Each character
gets its most common reading; a name whose characters read otherwise ("重庆", chóng not zhòng) is
simply not met, never wrongly met.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import unicodedata
from pathlib import Path

# A run this long of characters, each read on its own, is at most a place or a person: 福建, 泉州, 晋江.
NAME_CHARACTERS = 2


@functools.cache
def _readings() -> dict[int, str]:
    """Code point -> its first pinyin reading without tone marks; empty when pypinyin is missing."""
    spec = importlib.util.find_spec("pypinyin")  # finds the package without importing it
    if spec is None or spec.origin is None:
        return {}
    table = Path(spec.origin).parent / "pinyin_dict.json"
    if not table.is_file():
        return {}
    raw: dict[str, str] = json.loads(table.read_text(encoding="utf-8"))
    return {int(code): _plain(readings.split(",", 1)[0]) for code, readings in raw.items()}


def _plain(reading: str) -> str:
    """ "lǜ" -> "lu": tone marks and the umlaut go, as in names written in Latin letters."""
    decomposed = unicodedata.normalize("NFKD", reading)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def syllables(text: str) -> list[str]:
    """The reading of each character of a run of Chinese characters ("" for one it has none for)."""
    readings = _readings()
    return [readings.get(ord(ch), "") for ch in text]


def name_readings(run: str) -> list[str]:
    """Every two characters of a run, side by side, read as one word: "台风森白" gives "taifeng",
    "fengsen", "senbai". One of them is the name, if the run holds one; which one is for the
    other report to tell."""
    read = syllables(run)
    return [
        "".join(read[i : i + NAME_CHARACTERS])
        for i in range(len(read) - NAME_CHARACTERS + 1)
        if all(read[i : i + NAME_CHARACTERS])
    ]
