"""What a member is told when the numbers or words they typed are not in the Quran's data: a surah or
ayah out of range, an `/ayah` range the wrong way round or past the surah's end, a search with no word.

The Quran data reader (quranbot/quran/) stays free of Discord and of the catalog: it raises errors that
carry the facts (`SurahOutOfRange`, `AyahOutOfRange`, `NothingToSearch`), whose `str()` is the English
that the CLI and the logs show. `refusal` says the same in the member's language, the surah named as
the data names it; in English it is exactly the error's `str()`.
"""

from __future__ import annotations

from quranbot.i18n.catalog import Messages
from quranbot.i18n.surah_names import surah_name
from quranbot.quran.metadata import AyahOutOfRange, Surah, SurahOutOfRange
from quranbot.quran.search import NothingToSearch


class ReversedRange(ValueError):
    """`/ayah … to:` before the first ayah."""

    def __init__(self, first: int, last: int) -> None:
        super().__init__(f"`to` ({last}) comes before `ayah` ({first}): give the first ayah, then the last.")
        self.first, self.last = first, last


class RangeBeyondSurah(ValueError):
    """`/ayah … to:` past the surah's last ayah."""

    def __init__(self, surah: Surah, last: int) -> None:
        super().__init__(
            f"Surah {surah.number} ({surah.name}) ends at ayah {surah.ayah_count}: "
            f"`to` can be {surah.ayah_count} at most, not {last}."
        )
        self.surah, self.last = surah, last


def refusal(error: ValueError, text: Messages) -> str:
    """`error` said to a member in `text`'s language (any other ValueError: its own text)."""
    if isinstance(error, SurahOutOfRange):
        return text.t(
            "Surah number must be 1–{surahs}, got {number}", surahs=error.surahs, number=error.number
        )
    if isinstance(error, AyahOutOfRange):
        surah = error.surah
        return text.t(
            "Surah {number} ({name}) has {count} ayahs; {ayah} is out of range 1–{count}",
            number=surah.number,
            name=surah_name(surah.number, text.language),
            count=surah.ayah_count,
            ayah=error.ayah,
        )
    if isinstance(error, ReversedRange):
        return text.t(
            "`to` ({last}) comes before `ayah` ({first}): give the first ayah, then the last.",
            last=error.last,
            first=error.first,
        )
    if isinstance(error, RangeBeyondSurah):
        surah = error.surah
        return text.t(
            "Surah {number} ({name}) ends at ayah {count}: `to` can be {count} at most, not {last}.",
            number=surah.number,
            name=surah_name(surah.number, text.language),
            count=surah.ayah_count,
            last=error.last,
        )
    if isinstance(error, NothingToSearch):
        return text.t("Nothing to search for: type one or more words, in English or in Arabic.")
    return str(error)
