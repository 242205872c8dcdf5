"""Quran structure (surahs, juz, pages, sajdas...) read from Tanzil's quran-data.xml.

Every name and count comes from the shipped XML, never from source code, so a typo here cannot
misname a surah. The XML is parsed once into immutable objects; positions are converted to the
absolute ayah index the XML uses (0 = 1:1, 6235 = 114:6) and located with a binary search.
"""

from __future__ import annotations

import bisect
import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Literal, cast

__all__ = [
    "AyahRef",
    "QuranMetadata",
    "RevelationType",
    "Sajda",
    "SajdaType",
    "Surah",
    "load_metadata",
    "parse_metadata",
]

RevelationType = Literal["Meccan", "Medinan"]
SajdaType = Literal["recommended", "obligatory"]

_DATA_PACKAGE = "quranbot.data"
_DATA_FILE = "quran-data.xml"


@dataclass(frozen=True, order=True)
class AyahRef:
    """A position in the Quran as people write it: surah 2, ayah 255 is `2:255`."""

    surah: int
    ayah: int

    def __str__(self) -> str:
        return f"{self.surah}:{self.ayah}"


@dataclass(frozen=True)
class Surah:
    """One surah as described by the XML; `start` is the absolute index of its first ayah."""

    number: int
    arabic_name: str
    name: str  # transliteration, e.g. "Al-Kahf"
    english_name: str  # meaning, e.g. "The Cave"
    ayah_count: int
    revelation_type: RevelationType
    revelation_order: int
    rukus: int
    start: int

    def __str__(self) -> str:
        return f"{self.number}. {self.name} ({self.english_name})"


class SurahOutOfRange(ValueError):
    """A surah number the data has not. `str()` is the English; the bot says it to a member in their
    language from these fields (quranbot/bot/quran_refusals.py), so this package stays Discord- and
    catalog-free."""

    def __init__(self, number: int, surahs: int) -> None:
        super().__init__(f"Surah number must be 1–{surahs}, got {number}")
        self.number, self.surahs = number, surahs


class AyahOutOfRange(ValueError):
    """An ayah number a surah has not (`str()` in English; see SurahOutOfRange)."""

    def __init__(self, surah: Surah, ayah: int) -> None:
        super().__init__(
            f"Surah {surah.number} ({surah.name}) has {surah.ayah_count} ayahs; "
            f"{ayah} is out of range 1–{surah.ayah_count}"
        )
        self.surah, self.ayah = surah, ayah


@dataclass(frozen=True)
class Sajda:
    """An ayah of prostration; Tanzil marks each as recommended or obligatory."""

    number: int
    ref: AyahRef
    type: SajdaType


# eq=False: compared and hashed by identity; comparing every boundary field by field buys nothing.
@dataclass(frozen=True, eq=False)
class QuranMetadata:
    """The whole XML: surahs plus the start of every juz, hizb quarter, manzil, ruku and page."""

    surahs: tuple[Surah, ...]
    juz_starts: tuple[AyahRef, ...]
    hizb_quarters: tuple[AyahRef, ...]
    manzils: tuple[AyahRef, ...]
    rukus: tuple[AyahRef, ...]
    pages: tuple[AyahRef, ...]
    sajdas: tuple[Sajda, ...]
    # Absolute indexes of the starts above, precomputed for bisect.
    _surah_index: tuple[int, ...] = field(init=False, repr=False)
    _juz_index: tuple[int, ...] = field(init=False, repr=False)
    _hizb_index: tuple[int, ...] = field(init=False, repr=False)
    _manzil_index: tuple[int, ...] = field(init=False, repr=False)
    _ruku_index: tuple[int, ...] = field(init=False, repr=False)
    _page_index: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        expected = 0
        for number, surah in enumerate(self.surahs, start=1):
            if surah.number != number or surah.start != expected:
                raise ValueError(f"{_DATA_FILE}: surah {surah.number} is out of sequence")
            expected += surah.ayah_count
        object.__setattr__(self, "_surah_index", tuple(s.start for s in self.surahs))
        for attr, label, starts in (
            ("_juz_index", "juz", self.juz_starts),
            ("_hizb_index", "hizb", self.hizb_quarters),
            ("_manzil_index", "manzil", self.manzils),
            ("_ruku_index", "ruku", self.rukus),
            ("_page_index", "page", self.pages),
        ):
            # ayah_index() also rejects a boundary that points past the end of its surah.
            indexes = tuple(self.ayah_index(ref.surah, ref.ayah) for ref in starts)
            if not indexes or indexes[0] != 0 or list(indexes) != sorted(set(indexes)):
                raise ValueError(f"{_DATA_FILE}: {label} boundaries do not run in order from 1:1")
            object.__setattr__(self, attr, indexes)
        for sajda in self.sajdas:
            self.check_ayah(sajda.ref.surah, sajda.ref.ayah)

    # --- surahs and ayahs -------------------------------------------------------------------

    @property
    def total_ayahs(self) -> int:
        """Number of ayahs in the whole Quran (6236 in Tanzil's count)."""
        last = self.surahs[-1]
        return last.start + last.ayah_count

    def surah(self, number: int) -> Surah:
        """The surah with this number; a clear ValueError for anything outside 1..114."""
        if not 1 <= number <= len(self.surahs):
            raise SurahOutOfRange(number, len(self.surahs))
        return self.surahs[number - 1]

    def ayah_count(self, surah: int) -> int:
        """How many ayahs the surah has."""
        return self.surah(surah).ayah_count

    def check_ayah(self, surah: int, ayah: int) -> AyahRef:
        """Validate a surah:ayah pair from user input and return it as an AyahRef."""
        s = self.surah(surah)
        if not 1 <= ayah <= s.ayah_count:
            raise AyahOutOfRange(s, ayah)
        return AyahRef(surah, ayah)

    def ayah_index(self, surah: int, ayah: int) -> int:
        """Absolute 0-based index of an ayah, as the XML's `start` attribute counts."""
        self.check_ayah(surah, ayah)
        return self.surahs[surah - 1].start + ayah - 1

    def ayah_at(self, index: int) -> AyahRef:
        """Inverse of `ayah_index`: useful for stepping through the Quran across surah ends."""
        if not 0 <= index < self.total_ayahs:
            raise ValueError(f"Ayah index must be 0–{self.total_ayahs - 1}, got {index}")
        number = bisect.bisect_right(self._surah_index, index)
        return AyahRef(number, index - self.surahs[number - 1].start + 1)

    # --- divisions ------------------------------------------------------------------------

    @property
    def juz_count(self) -> int:
        """Number of juz (30)."""
        return len(self.juz_starts)

    @property
    def page_count(self) -> int:
        """Number of pages in the Madani mushaf layout the XML follows (604)."""
        return len(self.pages)

    @property
    def sajda_count(self) -> int:
        """Number of sajda ayahs (15)."""
        return len(self.sajdas)

    def juz_of(self, surah: int, ayah: int) -> int:
        """The juz (1-based) containing the ayah."""
        return bisect.bisect_right(self._juz_index, self.ayah_index(surah, ayah))

    def juz_start(self, n: int) -> AyahRef:
        """The first ayah of juz `n`."""
        return _nth("Juz", self.juz_starts, n)

    def page_of(self, surah: int, ayah: int) -> int:
        """The mushaf page (1-based) the ayah is printed on."""
        return bisect.bisect_right(self._page_index, self.ayah_index(surah, ayah))

    def page_start(self, n: int) -> AyahRef:
        """The first ayah printed on page `n`."""
        return _nth("Page", self.pages, n)

    def hizb_quarter_of(self, surah: int, ayah: int) -> int:
        """The hizb quarter (1..240) containing the ayah."""
        return bisect.bisect_right(self._hizb_index, self.ayah_index(surah, ayah))

    def manzil_of(self, surah: int, ayah: int) -> int:
        """The manzil (1..7) containing the ayah."""
        return bisect.bisect_right(self._manzil_index, self.ayah_index(surah, ayah))

    def ruku_of(self, surah: int, ayah: int) -> int:
        """The ruku (numbered through the whole Quran) containing the ayah."""
        return bisect.bisect_right(self._ruku_index, self.ayah_index(surah, ayah))

    def sajda_at(self, surah: int, ayah: int) -> Sajda | None:
        """The sajda at this ayah, if it is one (so a reciter display can mark it)."""
        ref = self.check_ayah(surah, ayah)
        return next((s for s in self.sajdas if s.ref == ref), None)


def _nth(what: str, starts: tuple[AyahRef, ...], n: int) -> AyahRef:
    if not 1 <= n <= len(starts):
        raise ValueError(f"{what} number must be 1–{len(starts)}, got {n}")
    return starts[n - 1]


# --- parsing ---------------------------------------------------------------------------------


def _attr(element: ET.Element, name: str) -> str:
    value = element.get(name)
    if value is None:
        raise ValueError(f"{_DATA_FILE}: <{element.tag}> lacks attribute {name!r}")
    return value


def _int(element: ET.Element, name: str) -> int:
    return int(_attr(element, name))


def _section(root: ET.Element, tag: str) -> list[ET.Element]:
    section = root.find(tag)
    if section is None:
        raise ValueError(f"{_DATA_FILE}: missing <{tag}>")
    items = list(section)
    for number, item in enumerate(items, start=1):
        if _int(item, "index") != number:
            raise ValueError(f"{_DATA_FILE}: <{tag}> entry {number} has index {item.get('index')}")
    return items


def _refs(root: ET.Element, tag: str) -> tuple[AyahRef, ...]:
    return tuple(AyahRef(_int(e, "sura"), _int(e, "aya")) for e in _section(root, tag))


def _choice(element: ET.Element, name: str, allowed: tuple[str, ...]) -> str:
    value = _attr(element, name)
    if value not in allowed:
        raise ValueError(f"{_DATA_FILE}: unexpected {name}={value!r} in <{element.tag}>")
    return value


def parse_metadata(xml: bytes) -> QuranMetadata:
    """Build QuranMetadata from the bytes of a Tanzil quran-data.xml (version 1.0 layout)."""
    root = ET.fromstring(xml)
    surahs = tuple(
        Surah(
            number=_int(e, "index"),
            arabic_name=_attr(e, "name"),
            name=_attr(e, "tname"),
            english_name=_attr(e, "ename"),
            ayah_count=_int(e, "ayas"),
            revelation_type=cast(RevelationType, _choice(e, "type", ("Meccan", "Medinan"))),
            revelation_order=_int(e, "order"),
            rukus=_int(e, "rukus"),
            start=_int(e, "start"),
        )
        for e in _section(root, "suras")
    )
    sajdas = tuple(
        Sajda(
            number=_int(e, "index"),
            ref=AyahRef(_int(e, "sura"), _int(e, "aya")),
            type=cast(SajdaType, _choice(e, "type", ("recommended", "obligatory"))),
        )
        for e in _section(root, "sajdas")
    )
    return QuranMetadata(
        surahs=surahs,
        juz_starts=_refs(root, "juzs"),
        hizb_quarters=_refs(root, "hizbs"),
        manzils=_refs(root, "manzils"),
        rukus=_refs(root, "rukus"),
        pages=_refs(root, "pages"),
        sajdas=sajdas,
    )


@functools.lru_cache(maxsize=1)
def load_metadata() -> QuranMetadata:
    """The metadata shipped in quranbot.data, parsed on first use (it never changes at runtime)."""
    return parse_metadata((files(_DATA_PACKAGE) / _DATA_FILE).read_bytes())
