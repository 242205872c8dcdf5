"""How a surah is named to a member: Tanzil's Arabic name in Arabic, its transliteration (and Tanzil's
English name) in English. Both come from the data file (quranbot/quran/metadata.py), never from the
catalog: a surah's name is data, not an interface string."""

from __future__ import annotations

from dataclasses import dataclass

from quranbot.i18n.catalog import Language, Messages
from quranbot.quran.metadata import load_metadata


def surah_name(number: int, language: Language) -> str:
    """`Al-Kahf` / `الكهف`."""
    surah = load_metadata().surah(number)
    return surah.arabic_name if language is Language.ARABIC else surah.name


def surah_label(number: int, language: Language) -> str:
    """`18. Al-Kahf (The Cave)` / `18. الكهف`."""
    surah = load_metadata().surah(number)
    if language is Language.ARABIC:
        return f"{surah.number}. {surah.arabic_name}"
    return f"{surah.number}. {surah.name} ({surah.english_name})"


@dataclass(frozen=True)
class SurahLabel:
    """A surah's label as a placeholder of a `Phrase`: named in the reader's language."""

    number: int

    def said_in(self, text: Messages) -> str:
        return surah_label(self.number, text.language)

    def __str__(self) -> str:
        return surah_label(self.number, Language.ENGLISH)


@dataclass(frozen=True)
class SurahName:
    """A surah's name as a placeholder: `Al-Kahf` / `الكهف`."""

    number: int

    def said_in(self, text: Messages) -> str:
        return surah_name(self.number, text.language)

    def __str__(self) -> str:
        return surah_name(self.number, Language.ENGLISH)


@dataclass(frozen=True)
class SurahTitled:
    """A surah named with its meaning: `Al-Kahf (The Cave)`; in Arabic the name says it: `الكهف`."""

    number: int

    def said_in(self, text: Messages) -> str:
        if text.language is Language.ARABIC:
            return surah_name(self.number, Language.ARABIC)
        return str(self)

    def __str__(self) -> str:
        surah = load_metadata().surah(self.number)
        return f"{surah.name} ({surah.english_name})"


@dataclass(frozen=True)
class SurahCited:
    """A surah named with its number after it: `Al-Kahf (18)` / `الكهف (18)`."""

    number: int

    def said_in(self, text: Messages) -> str:
        return f"{surah_name(self.number, text.language)} ({self.number})"

    def __str__(self) -> str:
        return f"{surah_name(self.number, Language.ENGLISH)} ({self.number})"


@dataclass(frozen=True)
class SurahNumbered:
    """A surah as a quiz choice: `18. Al-Kahf` / `18. الكهف` (its label without the English meaning)."""

    number: int

    def said_in(self, text: Messages) -> str:
        return f"{self.number}. {surah_name(self.number, text.language)}"

    def __str__(self) -> str:
        return f"{self.number}. {surah_name(self.number, Language.ENGLISH)}"
