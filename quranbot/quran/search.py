"""Full-text search over the 6,236 ayahs: Pickthall's English, or the Arabic typed without diacritics.

Results are references only. The index is built from a *normalised copy* of each text; what a caller
shows for a hit comes verbatim from `load_text()` (Tanzil's terms allow verbatim copies only), so
nothing here ever builds text for display.

Which text: a query with Arabic letters searches the Arabic (Latin words in it are ignored), any other
query the translation.

Arabic. Index and query both go through `normalise_arabic` (marks and tatweel removed, letter forms
unified, bare hamza dropped). That is not enough for Tanzil's Uthmani script, which spells many words
differently from modern Arabic: a long "a" is often a small (dagger) alef (ٱلْعَـٰلَمِينَ is modern
العالمين, yet ٱلرَّحْمَـٰنِ is still الرحمن), ٱلصَّلَوٰةَ is modern الصلاة, small yeh/waw write long
vowels (إِبْرَٰهِـۧمَ, ابراهيم), and a hamza sits on a tatweel or alone where modern spelling seats it
(شَيْـًٔا, شيئا; إِسْرَٰٓءِيلَ, اسرائيل). So each Uthmani word is indexed under several spellings
(`arabic_spellings`): its bare skeleton, and each way of writing its small letters out in full, with
hamza seated by the modern rules (the text carries the vowels those rules need). A leading
conjunction or preposition (و ف ب ك ل) is also stripped when the rest is a word the Quran has on its
own (وَٱللَّهُ is also ٱللَّهُ; كِتَـٰبٌ stays whole); the basmala Tanzil writes at the head of the
first ayah of 112 surahs is not indexed there (it is not part of those ayahs; 1:1 and 27:30 keep it).

A query word matches an Arabic word that is
- the same word, or the same with the article ("كتاب" finds الكتاب; "الكتاب" does not find كتاب),
  with ب, ك or the fused ل before the article ("الناس" finds للناس, "الله" finds لله);
- for query words of MIN_SUFFIX_LETTERS+ letters, that word plus an ending from a fixed list of
  pronouns and inflections ("كتاب" finds كتابهم, "قال" finds قالوا, "رحمة" finds رحمته, "ملك" finds
  ملكه but not ملكوت).
A standalone "يا" (or "ها") joins the next word, as the Uthmani text writes it (يَـٰٓأَيُّهَا).

English: case-insensitive words, punctuation ignored, apostrophes dropped ("Allah's" is "allahs"),
hyphenated words also findable joined ("wrongdoers" finds wrong-doers). A query word of
MIN_PREFIX_LETTERS+ letters matches the words it begins ("believe" finds believers, believeth); a
three-letter one also its plural in -s ("god" finds gods); shorter ones match exactly.

Every query word must match in the ayah. Ranking: the query as a phrase (its words at consecutive
positions, in order) first; then more query words matched exactly (not through an ending or a
prefix); then a larger share of the ayah's words matched (so a short ayah that is mostly the query
comes before a long one that mentions it); then Quran order.

Known limits. No root analysis: كتب does not find كاتب or مكتوب, and believe does not find
believing; Pickthall's archaic English (thee, ye, believeth) is searched as written. A prefix is
stripped only when what remains occurs on its own somewhere in the Quran, so a word seen once only
with its prefix is found only with it (مشكاة does not find كَمِشْكَوٰةٍ, 24:35); hamzat al-wasl
dropped after a preposition is not restored (اسم does not find بِسْمِ). Spellings the Uthmani text
gives no sign of are not generated, and the modern hamza seat is a rule, so an unusual seat may be
missed (spelling the word without the hamza still finds it). Words that differ only by their vowels
are one word here (الجنة finds both al-janna and al-jinna).
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import re
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from quranbot.quran.metadata import AyahRef, load_metadata
from quranbot.quran.text import TRANSLATION_FILE, load_text

__all__ = [
    "MIN_PREFIX_LETTERS",
    "MIN_SUFFIX_LETTERS",
    "AyahIndex",
    "SearchHit",
    "arabic_spellings",
    "load_index",
    "normalise_arabic",
    "search_ayahs",
]

MIN_SUFFIX_LETTERS = 3
"""Arabic query words this long also match the word plus an ending (pronoun, plural, verb ending)."""
MIN_PREFIX_LETTERS = 4
"""English query words this long also match words they begin ("believe" -> "believers")."""

Field = Literal["arabic", "translation"]

# --- Arabic normalisation ---------------------------------------------------------------------

# Marks written on a letter: honorific signs (U+0610-061A), harakat, shadda, sukun, maddah, hamza
# above/below (U+064B-065F), the superscript (dagger) alef (U+0670), Quranic pause marks and small
# high/low letters (U+06D6-06ED).
_ON_A_LETTER = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
# ...plus tatweel and the invisible joiners/direction marks a keyboard may add.
_MARKS = re.compile(f"[{_ON_A_LETTER}\u0640\u061c\u200b-\u200f]")
_ALEF = "\u0627"
_UNIFY = str.maketrans(
    {
        **dict.fromkeys("\u0622\u0623\u0625\u0671\u0672\u0673\u0675", _ALEF),  # آ أ إ ٱ and rarer alefs
        **dict.fromkeys("\u0649\u0626\u06cc\u06d0", "\u064a"),  # ى ئ (and Persian ی) -> ي
        **dict.fromkeys("\u0629\u06c0\u06c1\u06c2\u06d5", "\u0647"),  # ة (and Persian/Urdu heh) -> ه
        "\u0624": "\u0648",  # ؤ -> و
        "\u06a9": "\u0643",  # Persian keheh ک -> ك
        "\u0621": None,  # ء: dropped, as people often type words without it
    }
)
# A word after normalisation: a run of Arabic letters (the basic block plus the extended letters).
_ARABIC_WORD = re.compile("[\u0621-\u063a\u0641-\u064a\u066e\u066f\u0671-\u06d3\u06d5\u06fa-\u06ff]+")


def normalise_arabic(text: str) -> str:
    """Arabic as it is typed on an ordinary keyboard, for matching only (never for display).

    Removes: harakat and tanween, shadda, sukun, maddah and hamza marks (U+064B-065F), the dagger
    alef (U+0670), Quranic pause marks and small high/low letters (U+06D6-06ED, including the small
    waw U+06E5 and small yeh U+06E6), honorific signs (U+0610-061A), tatweel, and zero-width
    joiners. Unifies: alef forms (ٱ wasla, أ, إ, آ) to ا; ى and ئ to ي; ة to ه; ؤ to و; Persian ی,
    ک and heh to their Arabic letters. Drops bare hamza ء. Applies NFKC first, so presentation forms
    and composed letters read the same as plain ones. Anything else (spaces, Latin) is left as is.
    """
    return _MARKS.sub("", unicodedata.normalize("NFKC", text)).translate(_UNIFY)


# Raw Uthmani code points the spelling expansion looks at.
_TATWEEL, _HAMZA, _HAMZA_ABOVE = "\u0640", "\u0621", "\u0654"
_DAGGER_ALEF, _SMALL_WAW, _SMALL_YEH, _SMALL_HIGH_YEH = "\u0670", "\u06e5", "\u06e6", "\u06e7"
_SILENT = "\u06df"  # small high rounded zero: the letter under it is not pronounced
_FATHA, _DAMMA, _KASRA = "\u064e\u064b", "\u064f\u064c", "\u0650\u064d"  # with their tanween
_WAW, _YEH, _ALEF_MAKSURA, _HEH = "\u0648", "\u064a", "\u0649", "\u0647"
_UNIT = re.compile(f"([^{_ON_A_LETTER}])([{_ON_A_LETTER}]*)")
# What may come before a hamza that modern spelling still writes as word-initial (on an alef):
# conjunction, preposition, article (بِـَٔايَـٰتِ is بآيات, ٱلْـَٔاخِرَةِ is الآخرة).
_INITIAL_PREFIX = re.compile("[وف]?[بلك]?(ال)?")
_MAX_SPELLINGS = 16


class _Unit(NamedTuple):
    """One letter (or tatweel) of an Uthmani word with the marks written on it."""

    letter: str
    marks: str

    def vowel(self) -> str:
        """'a', 'u', 'i', or '' for sukun or none (the first haraka wins)."""
        for mark in self.marks:
            for vowel, marks in (("a", _FATHA), ("u", _DAMMA), ("i", _KASRA)):
                if mark in marks:
                    return vowel
        return ""


def _units(word: str) -> list[_Unit]:
    return [_Unit(letter, marks) for letter, marks in _UNIT.findall(word)]


def _hamza_seat(units: Sequence[_Unit], i: int) -> str:
    """How modern spelling writes the bare or tatweel-borne hamza at `units[i]` (before normalising).

    The Uthmani text carries the vowels, so the seat follows the usual rules: word-initial on alef
    (merged into a following alef, as آ); medial with kasra around it on yeh, with damma on waw,
    after a long vowel alone, with fatha on alef; final by the vowel before it.
    """
    vowel, after = units[i].vowel(), units[i + 1 :]
    next_letter = after[0].letter if after else ""
    before = normalise_arabic("".join(u.letter for u in units[:i]))
    if _INITIAL_PREFIX.fullmatch(before):
        return "" if vowel == "a" and next_letter == _ALEF else _ALEF
    prev = units[i - 1]
    prev_vowel, prev_yeh = prev.vowel(), prev.letter in (_YEH, _ALEF_MAKSURA)
    if not any(u.letter != _TATWEEL for u in after):  # final
        return {"i": "\u0626", "u": "\u0624", "a": "\u0623"}.get(prev_vowel, "")
    if vowel == "a" and next_letter == _ALEF and prev_vowel != "i" and not prev_yeh:
        return ""  # آ: the following alef carries it
    if "i" in (vowel, prev_vowel) or (prev_yeh and not prev_vowel):
        return "\u0626"
    if "u" in (vowel, prev_vowel):
        return "\u0624"
    if not prev_vowel and prev.letter in (_ALEF, _WAW, _YEH, _ALEF_MAKSURA):
        return ""  # after a long vowel it stands alone: جاءهم
    return "\u0623" if "a" in (vowel, prev_vowel) else ""


def _unit_choices(units: Sequence[_Unit], i: int) -> tuple[str, ...]:
    """The ways modern spelling may write `units[i]`: the letter alone, or with its small letter
    written out in full."""
    unit = units[i]
    letter = "" if unit.letter == _TATWEEL else unit.letter
    if unit.letter == _HAMZA or (unit.letter == _TATWEEL and _HAMZA_ABOVE in unit.marks):
        letter = _hamza_seat(units, i)
    choices = [letter]
    if _DAGGER_ALEF in unit.marks and unit.letter not in (_YEH, _ALEF_MAKSURA):
        # An alef is added (ٱلْعَـٰلَمِينَ, العالمين); on a waw, the waw may also be that alef's
        # Uthmani spelling (ٱلصَّلَوٰةَ, الصلاة; but ٱلسَّمَـٰوَٰتِ, السماوات).
        choices = [letter, letter + _ALEF]
        if unit.letter == _WAW:
            choices.append(_ALEF)
    after_heh = unit.letter == _HEH  # لَهُۥ, بِهِۦ: the pronoun's long vowel, never written in full
    for small, full in ((_SMALL_WAW, _WAW), (_SMALL_YEH, _YEH), (_SMALL_HIGH_YEH, _YEH)):
        if small in unit.marks and not after_heh:
            choices += [c + full for c in choices]
    if _SILENT in unit.marks and i and _DAGGER_ALEF in units[i - 1].marks and units[i - 1].letter == _WAW:
        choices.append("")  # ٱلرِّبَوٰا۟ is الربا
    return tuple(dict.fromkeys(choices))


def arabic_spellings(word: str) -> frozenset[str]:
    """Every normalised spelling one Uthmani word is indexed under (see the module docstring).

    Always includes `normalise_arabic(word)`; the expanded spellings are capped at 16 combinations
    (a word with more small letters keeps its all-short and all-full spellings only).
    """
    units = _units(word)
    choices = [_unit_choices(units, i) for i in range(len(units))]
    combos: Iterable[tuple[str, ...]]
    if functools.reduce(lambda n, c: n * len(c), choices, 1) <= _MAX_SPELLINGS:
        combos = itertools.product(*choices)
    else:
        combos = (tuple(c[0] for c in choices), tuple(c[-1] for c in choices))
    spellings = {normalise_arabic("".join(combo)) for combo in combos}
    spellings.add(normalise_arabic(word))
    return frozenset(s for s in spellings if s)


# Endings a query word may carry in the text (normalised: ة is ه, ى is ي): an inflection, then a
# pronoun, as in كتاب+هم, قال+وا, مؤمن+ون, مؤمن+ات+هم. Longer chains (علم+تم+وه) are not followed.
_ENDINGS = ("", "ا", "ت", "تم", "تما", "تن", "ن", "وا", "و", "ون", "ين", "ان", "ات", "ه", "ي")
_PRONOUNS = ("", "ه", "ها", "هم", "هما", "هن", "ك", "كم", "كما", "كن", "ي", "ني", "نا")
_SUFFIXES = frozenset(e + p for e in _ENDINGS for p in _PRONOUNS) - {""}
_PRONOUNS_OR_NONE = frozenset(_PRONOUNS)
_PRONOUNS_ONLY = _PRONOUNS_OR_NONE - {""}
_ARTICLE = "ال"
# The vocative and attention particles, which the Uthmani text joins to the next word.
_JOINED_PARTICLES = ("يا", "ها")


# Clitics written joined to the next word, with the vowel each takes: the conjunctions wa, fa, the
# prepositions bi, ka, li and the emphatic la. The same letter with another vowel is the word's own
# (كِتَابٌ is not ka + تاب, بَشَرٌ is not bi + شر).
_CLITICS = {"و": "a", "ف": "a", "ب": "i", "ك": "a", "ل": "ai"}
# Marks ending a word that vary with its grammatical case (all but shadda, which is part of the word).
_CASE_ENDING = re.compile("[\u064b-\u0650\u0652-\u065f\u0670\u06d6-\u06ed]+$")


def _without_clitics(word: str, known: frozenset[str]) -> list[str]:
    """`word` without a leading conjunction and/or preposition (up to two), when what remains is a
    word the Quran also has on its own (compared with its vowels, but not its case ending): وَٱللَّهُ
    gives ٱللَّهُ, فَإِنَّ gives إِنَّ, لِمَن gives مَن, but وَجَدَ and كِتَـٰبٌ stay whole. Lam followed by lam
    (لِلَّهِ, لِلنَّاسِ) is the article fused with li; the query side matches that."""
    remainders: list[str] = []
    for _ in range(2):
        units = _units(word)
        if len(units) < 3 or units[0].letter == units[1].letter == "ل":
            break
        vowel = units[0].vowel()
        if not vowel or vowel not in _CLITICS.get(units[0].letter, ""):
            break
        rest = word[len(units[0].letter + units[0].marks) :]
        if _CASE_ENDING.sub("", rest) not in known:
            break
        remainders.append(rest)
        word = rest
    return remainders


def _arabic_bases(word: str) -> list[tuple[str, frozenset[str]]]:
    """Stems under which a query word may appear in the index, each with the endings allowed after it
    ("" among them: the bare stem, which counts as an exact match). Conjunctions and prepositions
    were stripped when indexing (`_without_clitics`); what is left is the article."""
    long_enough = len(word) >= MIN_SUFFIX_LETTERS
    endings = _SUFFIXES | {""} if long_enough else frozenset({""})
    forms = [word]
    if word.startswith(_ARTICLE):
        forms += ["ب" + word, "ك" + word, "ل" + word[1:]]  # kept joined when indexing: بالغدوة
        if word[2:3] == "ل":  # لله: li + allah loses the article's lam as well
            forms.append("ل" + word[2:])
    elif long_enough:
        forms += [_ARTICLE + word, "لل" + word]
    bases = [(f, endings) for f in forms]
    if long_enough and word.endswith(_HEH):
        # A feminine ending (ة, normalised to ه) is written ت before a pronoun, and sometimes alone.
        bases += [(f[:-1] + "ت", _PRONOUNS_OR_NONE) for f in forms]
    if long_enough and word.endswith(_YEH):
        bases += [(f[:-1] + _ALEF, _PRONOUNS_ONLY) for f in forms]  # هدى, هداهم
    return bases


# --- English ------------------------------------------------------------------------------------

_ENGLISH_CHUNK = re.compile(r"[^\W_](?:[\w'’‘ʼ-]*[^\W_])?")
_APOSTROPHES = re.compile("['’‘ʼ]")


def _english_words(text: str) -> list[tuple[str, ...]]:
    """Word positions of English text: each position's forms (a hyphenated word also gives its
    joined form at its first part's position). Casefolded, accents and apostrophes removed."""
    text = text.casefold()
    if not text.isascii():
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    positions: list[tuple[str, ...]] = []
    for chunk in _ENGLISH_CHUNK.findall(_APOSTROPHES.sub("", text)):
        parts = [p for p in chunk.split("-") if p]
        positions += [(p,) for p in parts]
        if len(parts) > 1:
            positions[-len(parts)] = (parts[0], "".join(parts))
    return positions


# --- the index ------------------------------------------------------------------------------------

Postings = dict[int, int]
"""Ayah index -> bit mask of the word positions (bit n = the n-th word) where a term occurs."""


@dataclass(frozen=True, eq=False)
class _FieldIndex:
    """An inverted index of one text: each term, the ayahs and word positions holding it.

    Stored compactly (a term's ayahs in an array of 16-bit numbers, its masks in a tuple of shared
    ints) rather than as a dict per term: most terms occur in one or two ayahs, and a small dict costs
    ~200 bytes. A query turns the few terms it touches back into dicts.
    """

    terms: dict[str, tuple[array[int], tuple[int, ...]]]
    vocabulary: tuple[str, ...]  # the terms sorted, so the terms sharing a prefix are one bisect range
    lengths: array[int]  # words per ayah

    @classmethod
    def build(cls, positions_per_ayah: Iterable[Sequence[Iterable[str]]]) -> _FieldIndex:
        ayahs: dict[str, array[int]] = {}
        masks: dict[str, list[int]] = {}
        shared: dict[int, int] = {}  # one int object per distinct mask (there are a few thousand)
        lengths = array("H")
        for index, positions in enumerate(positions_per_ayah):
            lengths.append(len(positions))
            in_ayah: dict[str, int] = {}
            for position, forms in enumerate(positions):
                bit = 1 << position
                for form in forms:
                    in_ayah[form] = in_ayah.get(form, 0) | bit
            for term, mask in in_ayah.items():
                if term not in ayahs:
                    ayahs[term], masks[term] = array("H"), []
                ayahs[term].append(index)
                masks[term].append(shared.setdefault(mask, mask))
        terms = {term: (ayahs[term], tuple(masks.pop(term))) for term in list(ayahs)}
        return cls(terms, tuple(sorted(terms)), lengths)

    def postings(self, term: str) -> Postings | None:
        found = self.terms.get(term)
        return None if found is None else dict(zip(*found, strict=True))

    def with_prefix(self, prefix: str) -> Sequence[str]:
        """Every term that begins with `prefix` (itself included)."""
        vocabulary = self.vocabulary
        start = bisect.bisect_left(vocabulary, prefix)
        return vocabulary[start : bisect.bisect_left(vocabulary, prefix + "\U0010ffff", start)]

    def with_endings(self, stem: str, endings: frozenset[str]) -> Iterable[str]:
        """The terms that are `stem` plus one of `endings`: by trying each ending, or by reading the
        terms that begin with the stem when there are fewer of those (a short stem such as الا
        begins hundreds of words; a long one, a handful)."""
        vocabulary = self.vocabulary
        start = bisect.bisect_left(vocabulary, stem)
        end = bisect.bisect_left(vocabulary, stem + "\U0010ffff", start)
        if end - start <= len(endings):
            return (t for t in vocabulary[start:end] if t[len(stem) :] in endings)
        return (t for t in (stem + e for e in endings) if t in self.terms)


@dataclass
class _WordMatch:
    """Where one query word matched: everywhere, and where without an ending or a prefix."""

    any: Postings
    exact: Postings


def _merge(postings: Iterable[Postings]) -> Postings:
    merged: Postings = {}
    for masks in postings:
        if not merged:
            merged = masks
            continue
        for index, mask in masks.items():
            merged[index] = merged.get(index, 0) | mask
    return merged


def _arabic_word(index: _FieldIndex, word: str) -> _WordMatch:
    exact: list[Postings] = []
    every: list[Postings] = []
    for base, endings in _arabic_bases(word):
        for term in index.with_endings(base, endings):
            masks = index.postings(term)
            if masks is None:
                continue
            every.append(masks)
            if term == base:
                exact.append(dict(masks))  # _merge may update `masks` in place
    return _WordMatch(_merge(every), _merge(exact))


def _english_word(index: _FieldIndex, word: str) -> _WordMatch:
    if len(word) >= MIN_PREFIX_LETTERS:
        terms = list(index.with_prefix(word))
    elif len(word) == MIN_PREFIX_LETTERS - 1:
        terms = [word, word + "s"]
    else:
        terms = [word]
    found = [p for p in map(index.postings, terms) if p is not None]
    exact = index.postings(word) or {}
    return _WordMatch(_merge(found), exact)


@dataclass(frozen=True)
class SearchHit:
    """One ayah found. Show `load_text()[hit.ref]` (or the translation's line): the text itself is
    never copied here."""

    ref: AyahRef
    matched: Field


@dataclass(frozen=True, eq=False)
class AyahIndex:
    """Both texts' inverted indexes, built once from normalised copies (see `load_index`)."""

    arabic: _FieldIndex
    translation: _FieldIndex

    @classmethod
    def build(cls, arabic: Sequence[str], translation: Sequence[str]) -> AyahIndex:
        """Index the ayah texts, given in Quran order (line n is `ayah_at(n)`, line 0 is 1:1)."""
        forms: dict[str, tuple[str, ...]] = {}  # per distinct Uthmani word (a tuple: a third the size)
        known = frozenset(_CASE_ENDING.sub("", w) for line in arabic for w in line.split())
        basmala = normalise_arabic(arabic[0]).split()
        # Tanzil prefixes the first ayah of every surah but 1 and 9 with the basmala, which is not
        # part of that ayah (the translation has no such prefix): searching it would find 112 extra
        # "ayahs" for الرحمن الرحيم. 1:1 and 27:30 keep theirs.
        first_ayahs = {s.start for s in load_metadata().surahs[1:]}

        def word_forms(word: str) -> tuple[str, ...]:
            found = forms.get(word)
            if found is None:
                found = forms[word] = tuple(
                    frozenset().union(*map(arabic_spellings, [word, *_without_clitics(word, known)]))
                )
            return found

        def arabic_positions(index: int, line: str) -> list[tuple[str, ...]]:
            words = line.split()
            if index in first_ayahs and [normalise_arabic(w) for w in words[:4]] == basmala:
                words = words[4:]
            # A pause mark or ۩ standing alone is not a word.
            return [f for f in map(word_forms, words) if f]

        return cls(
            arabic=_FieldIndex.build(arabic_positions(i, line) for i, line in enumerate(arabic)),
            translation=_FieldIndex.build(_english_words(line) for line in translation),
        )

    def search(self, query: str, surah: int | None = None, limit: int = 50) -> list[SearchHit]:
        """See `search_ayahs`."""
        metadata = load_metadata()
        first, end = 0, metadata.total_ayahs
        if surah is not None:
            chosen = metadata.surah(surah)  # a clear ValueError outside 1..114
            first, end = chosen.start, chosen.start + chosen.ayah_count
        field, words = _query_words(query)
        if limit <= 0:
            return []
        index, lookup = (
            (self.arabic, _arabic_word) if field == "arabic" else (self.translation, _english_word)
        )
        matches = [lookup(index, word) for word in words]
        rarest_first = sorted(matches, key=lambda m: len(m.any))  # the candidates shrink fastest
        candidates = list(rarest_first[0].any)
        if surah is not None:
            candidates = [i for i in candidates if first <= i < end]
        for match in rarest_first[1:]:
            candidates = [i for i in candidates if i in match.any]
        ranked = heapq.nsmallest(limit, candidates, key=_ranking(index.lengths, matches))
        return [SearchHit(metadata.ayah_at(i), field) for i in ranked]


def _ranking(lengths: Sequence[int], matches: Sequence[_WordMatch]) -> Callable[[int], int]:
    """Sort key for a candidate ayah, smaller first: the query as a phrase (its words at consecutive
    positions, in order), then more query words matched exactly, then a larger share of the ayah's
    words matched (a short ayah that is mostly the query before a long one that mentions it), then
    Quran order. Packed into one int: a query with a common word ranks thousands of ayahs."""
    anys = [m.any for m in matches]
    exacts = [m.exact for m in matches]
    count = len(matches)
    if count == 1:  # the common case, and the one that ranks the most ayahs: kept lean
        masks, exact = anys[0], exacts[0]

        def key_one(i: int) -> int:
            shortfall = 1024 - masks[i].bit_count() * 1024 // lengths[i]
            return ((i not in exact) << 24) | (shortfall << 13) | i

        return key_one

    def key(i: int) -> int:
        phrase = union = anys[0][i]
        for offset in range(1, count):
            mask = anys[offset][i]
            phrase &= mask >> offset
            union |= mask
        inexact = count
        for exact in exacts:
            if i in exact:
                inexact -= 1
        shortfall = 1024 - union.bit_count() * 1024 // lengths[i]  # 0 when every word matched
        return ((not phrase) << 40) | (inexact << 24) | (shortfall << 13) | i  # i < 8192

    return key


def _query_words(query: str) -> tuple[Field, list[str]]:
    """Which text the query searches, and its normalised words; a ValueError if it has none."""
    arabic = _ARABIC_WORD.findall(normalise_arabic(query))
    if arabic:
        joined: list[str] = []
        for word in arabic:
            if joined and joined[-1] in _JOINED_PARTICLES:
                joined[-1] += word
            else:
                joined.append(word)
        return "arabic", joined
    # Without the Arabic marks: tatweel counts as a letter to the English tokeniser.
    english = [form[0] for form in _english_words(_MARKS.sub("", query))]
    if not english:
        raise NothingToSearch()
    return "translation", english


class NothingToSearch(ValueError):
    """A query with no word to search for (`str()` in English; the bot says it in the member's language)."""

    def __init__(self) -> None:
        super().__init__("Nothing to search for: type one or more words, in English or in Arabic.")


@functools.cache
def load_index() -> AyahIndex:
    """The index of the shipped texts, built on first use (under a second; then kept for the process)."""
    return AyahIndex.build(load_text().lines, load_text(TRANSLATION_FILE).lines)


def search_ayahs(query: str, surah: int | None = None, limit: int = 50) -> list[SearchHit]:
    """Best hits first. Raises ValueError with a clear one-line message a member can read for a query
    with no searchable word (empty, only punctuation/diacritics) or a surah outside 1..114."""
    return load_index().search(query, surah, limit)
