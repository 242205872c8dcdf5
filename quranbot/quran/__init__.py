"""Quran metadata (surahs, juz, pages, sajdas) and surah lookup, all read from Tanzil's data files.

Names and counts are never written in code: they come from quranbot.data/quran-data.xml.
"""

from quranbot.quran.lookup import find_surah, search_surahs
from quranbot.quran.metadata import (
    AyahRef,
    QuranMetadata,
    RevelationType,
    Sajda,
    SajdaType,
    Surah,
    load_metadata,
    parse_metadata,
)

__all__ = [
    "AyahRef",
    "QuranMetadata",
    "RevelationType",
    "Sajda",
    "SajdaType",
    "Surah",
    "find_surah",
    "load_metadata",
    "parse_metadata",
    "search_surahs",
]
