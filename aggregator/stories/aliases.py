"""Institutions that headlines name in several ways, written one way before matching.

Wire copy names a central bank by its full name, its abbreviation or a description ("the Federal
Reserve", "the Fed", "the US central bank"), and other languages by their own abbreviation ("EZB",
"BCE" for the ECB). Each row gives the names an institution uses for itself on its own site, its
abbreviations in the languages offthewire reads, and the description wires use; nothing else.
The table stays small on purpose: a name is added only with a labelled pair it joins and a test.
Other languages' abbreviations of bodies that wires name in many stories ("UE", "ONU") are left
out: across languages two shared names join a story, and "EU" with one other name is not enough.
"""

from __future__ import annotations

import re

# Short form -> the other names it is written for.
INSTITUTIONS: dict[str, tuple[str, ...]] = {
    "Fed": ("Federal Reserve", "US Federal Reserve", "US central bank", "U.S. central bank", "Réserve fédérale"),
    "ECB": ("European Central Bank", "euro zone central bank", "EZB", "BCE", "Banco Central Europeo",
            "Banque centrale européenne", "Europäische Zentralbank"),
    "BOJ": ("Bank of Japan", "Japan's central bank", "BoJ"),
    "BoE": ("Bank of England", "Britain's central bank"),
    "RBA": ("Reserve Bank of Australia", "Australia's central bank"),
    "RBI": ("Reserve Bank of India", "India's central bank"),
    "PBOC": ("People's Bank of China", "China's central bank", "PBoC"),
    "BoC": ("Bank of Canada", "Canada's central bank"),
    "IMF": ("International Monetary Fund",),
    "WHO": ("World Health Organization", "World Health Organisation"),
    "UN": ("United Nations",),
    "EU": ("European Union",),
    "UNSC": ("UN Security Council", "Security Council", "Conseil de sécurité", "Consejo de Seguridad"),
    "国常会": ("国务院常务会议",),
}  # fmt: skip

_SHORT = {alias.casefold(): short for short, aliases in INSTITUTIONS.items() for alias in aliases}


def _pattern(aliases: list[str], flags: int) -> re.Pattern[str]:
    # Longest first, so "US Federal Reserve" wins over "Federal Reserve"; Latin names as whole words.
    ordered = sorted(aliases, key=len, reverse=True)
    return re.compile("|".join(rf"\b{re.escape(a)}\b" if a.isascii() else re.escape(a) for a in ordered), flags)


def _clue(alias: str) -> str:
    """The longest word of a name: a text without it cannot hold the name."""
    return max(alias.casefold().split(), key=len)


def _searches() -> dict[str, re.Pattern[str]]:
    """Per clue, a search for the names holding it. Abbreviations only in capitals ("OMS", not
    "oms"); names and descriptions in any case."""
    names = [alias for aliases in INSTITUTIONS.values() for alias in aliases]
    searches = {}
    for clue in {_clue(alias) for alias in names}:
        holding = [alias for alias in names if _clue(alias) == clue]
        abbreviations = all(" " not in alias and alias.isascii() for alias in holding)
        searches[clue] = _pattern(holding, 0 if abbreviations else re.IGNORECASE)
    return searches


# Almost every text holds no clue and is passed over; one that does is searched for those names only.
_SEARCHES = _searches()


def short_names(text: str) -> str:
    """`text` with every institution written by its short form."""
    folded = text.casefold()
    for clue, search in _SEARCHES.items():
        if clue in folded:
            text = search.sub(lambda found: _SHORT[found.group(0).casefold()], text)
    return text
