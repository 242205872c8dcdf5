"""Find a surah from whatever a user types: "18", "al kahf", "Kahf", "The Cave" or the Arabic name.

Used by slash-command autocomplete, so it must forgive case, accents, hyphens, apostrophes, the
Arabic definite article and tashkeel, and (in search_surahs only) small typos, while never inventing
a name: every key is derived from the names in quran-data.xml.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from dataclasses import dataclass

from quranbot.quran.metadata import Surah, load_metadata

__all__ = ["find_surah", "normalise", "search_surahs"]

FUZZY_THRESHOLD = 0.6
"""Minimum difflib ratio for a typo to count as a match ("al-baqra" vs "Al-Baqara" is ~0.9)."""

# Tashkeel (harakat, shadda, sukun, superscript alef, Quranic annotation marks) and tatweel.
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_ARTICLE = "\u0627\u0644"  # alef + lam
_ALEF_WASLA, _ALEF = "\u0671", "\u0627"  # Uthmani script writes the article's alef as wasla
# Leading words a user may add or omit: transliterated articles ("adh" is how the XML spells
# Adh-Dhaariyat), English "the", and "surah" itself.
_LEADING_WORDS = frozenset(
    {"al", "an", "ash", "at", "ad", "adh", "az", "ar", "as", "the", "surah", "sura", "surat"}
)
_WORD_SPLIT = re.compile(r"[\W_]+")
_APOSTROPHES = re.compile("['\u2018\u2019\u02bc\u02bb\u02be\u02bf`]")  # "An'aam" is one word


def _words(text: str) -> list[str]:
    """Casefolded words without diacritics, tashkeel, tatweel or apostrophes; alef wasla read as
    alef. Any other punctuation or space separates words."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOSTROPHES.sub("", _ARABIC_MARKS.sub("", text)).replace(_ALEF_WASLA, _ALEF)
    return [w for w in _WORD_SPLIT.split(text) if w]


def normalise(text: str) -> tuple[str, ...]:
    """Comparison keys for a name or query: the whole name, then the name without its article.

    "Al-Kahf" -> ("alkahf", "kahf"); the Arabic name gives the same pair with and without a
    leading alef-lam. NFKD also splits hamza from its alef, so spellings with and without hamza
    compare equal.
    """
    words = _words(text)
    full = "".join(words)
    if not full:
        return ()
    keys = [full]
    if len(words) > 1 and words[0] in _LEADING_WORDS:
        keys.append("".join(words[1:]))
        if len(words) > 2 and words[1] in _LEADING_WORDS:  # "surah al kahf"
            keys.append("".join(words[2:]))
    if full.startswith(_ARABIC_ARTICLE) and len(full) > len(_ARABIC_ARTICLE):
        keys.append(full[len(_ARABIC_ARTICLE) :])
    return tuple(dict.fromkeys(keys))


@dataclass(frozen=True)
class _Entry:
    """A surah's comparison keys. English meanings are left out of typo matching: many are one
    short word ("Man", "Divorce"), and difflib's ratio favours short strings, so "imran" would
    otherwise land on "Man" rather than "Aal-i-Imraan"."""

    surah: Surah
    keys: tuple[str, ...]
    fuzzy_keys: tuple[str, ...]


def _keys(*names: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(k for name in names for k in normalise(name)))


@functools.lru_cache(maxsize=1)
def _entries() -> tuple[_Entry, ...]:
    return tuple(
        _Entry(
            surah,
            keys=_keys(surah.name, surah.english_name, surah.arabic_name),
            fuzzy_keys=_keys(surah.name, surah.arabic_name),
        )
        for surah in load_metadata().surahs
    )


def _ratio(wanted: tuple[str, ...], entry: _Entry) -> float:
    """Best difflib ratio over the key pairs, 0.0 below the threshold (cheap bounds checked first,
    as difflib.get_close_matches does, to keep autocomplete fast)."""
    best = 0.0
    for q in wanted:
        for k in entry.fuzzy_keys:
            matcher = difflib.SequenceMatcher(None, q, k)
            floor = max(best, FUZZY_THRESHOLD)
            if matcher.real_quick_ratio() >= floor and matcher.quick_ratio() >= floor:
                best = max(best, matcher.ratio())
    return best


def _by_number(query: str) -> tuple[list[Surah], list[Surah]]:
    """Exact and prefix matches for a numeric query ("018" -> 18; "1" also offers 10-19, 100-114)."""
    surahs = load_metadata().surahs
    exact = [surahs[int(query) - 1]] if 1 <= int(query) <= len(surahs) else []
    digits = str(int(query))
    prefix = [s for s in surahs if str(s.number).startswith(digits) and s not in exact]
    return exact, prefix


@dataclass
class _Tiers:
    """Matches for one query, best tier first; fuzzy matches carry their ratio, best first."""

    exact: list[Surah]
    prefix: list[Surah]
    substring: list[Surah]
    fuzzy: list[tuple[float, Surah]]

    def ordered(self) -> list[Surah]:
        return [*self.exact, *self.prefix, *self.substring, *(s for _, s in self.fuzzy)]


def _match(query: str, *, fuzzy: bool = True) -> _Tiers:
    query = query.strip()
    if query.isdecimal():  # also accepts Arabic-Indic digits
        exact, prefix = _by_number(query)
        return _Tiers(exact, prefix, [], [])
    tiers = _Tiers([], [], [], [])
    wanted = normalise(query)
    if not wanted:
        return tiers
    for entry in _entries():
        pairs = [(q, k) for q in wanted for k in entry.keys]
        if any(q == k for q, k in pairs):
            tiers.exact.append(entry.surah)
        elif any(k.startswith(q) for q, k in pairs):
            tiers.prefix.append(entry.surah)
        elif any(q in k for q, k in pairs):
            tiers.substring.append(entry.surah)
        elif fuzzy:
            ratio = _ratio(wanted, entry)
            if ratio >= FUZZY_THRESHOLD:
                tiers.fuzzy.append((ratio, entry.surah))
    tiers.fuzzy.sort(key=lambda item: (-item[0], item[1].number))
    return tiers


def search_surahs(query: str, limit: int = 25) -> list[Surah]:
    """Autocomplete choices for `query`, best first (Discord shows at most 25).

    Ranking: exact number or name, then prefix, then substring, then typo (difflib ratio) matches.
    An empty query lists the surahs in order, so the menu is useful before anything is typed.
    """
    if limit <= 0:
        return []
    if not query.strip():
        return list(load_metadata().surahs[:limit])
    return _match(query).ordered()[:limit]


def find_surah(query: str) -> Surah | None:
    """The surah whose number or name the query states exactly (after normalisation), else None.

    It never guesses: typos ("al-baqra") are for search_surahs to offer, so a command cannot
    start reciting a surah the user did not name. A name the XML gives two surahs (two share an
    English meaning) also returns None.
    """
    exact = _match(query, fuzzy=False).exact
    return exact[0] if len(exact) == 1 else None
