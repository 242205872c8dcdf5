"""The Quran's text (Tanzil's Uthmani script) and Pickthall's translation, read from the shipped files.

Each line is kept exactly as the file has it: decoded from UTF-8 and nothing else (no Unicode
normalisation, no trimming inside the text), because Tanzil's terms allow verbatim copies only and a
reader must be able to compare what the bot shows with tanzil.net byte for byte. Searching may
normalise a copy; what is shown comes from here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources import files

from quranbot.i18n.catalog import N_
from quranbot.quran.metadata import AyahRef, load_metadata

__all__ = [
    "ARABIC_CREDIT",
    "ARABIC_FILE",
    "TRANSLATION_CREDIT",
    "TRANSLATION_FILE",
    "QuranText",
    "load_text",
    "parse_text",
]

_DATA_PACKAGE = "quranbot.data"
ARABIC_FILE = "quran-uthmani.txt"
TRANSLATION_FILE = "en.pickthall.txt"
#: Shown wherever the Arabic text is shown (Tanzil's terms of use).
ARABIC_CREDIT = N_("Quran text: Tanzil Project, tanzil.net")
#: Shown wherever the translation is shown.
TRANSLATION_CREDIT = N_("Translation: Pickthall, via Tanzil")


@dataclass(frozen=True, eq=False)
class QuranText:
    """One text file: 6236 ayahs in order, looked up by surah and ayah."""

    name: str
    lines: tuple[str, ...]

    def __getitem__(self, ref: AyahRef) -> str:
        return self.ayah(ref.surah, ref.ayah)

    def ayah(self, surah: int, ayah: int) -> str:
        """The ayah's text exactly as the file has it; a clear ValueError for a position that is not one."""
        return self.lines[load_metadata().ayah_index(surah, ayah)]

    def surah(self, surah: int) -> tuple[str, ...]:
        """Every ayah of a surah, in order."""
        first = load_metadata().surah(surah)
        return self.lines[first.start : first.start + first.ayah_count]


def parse_text(name: str, raw: bytes) -> QuranText:
    """Read `surah|ayah|text` lines (comment lines start with '#'); every ayah must be there, in order."""
    metadata = load_metadata()
    lines: list[str] = []
    for number, line in enumerate(raw.decode("utf-8").split("\n"), start=1):
        if not line or line.startswith("#"):
            continue
        surah, ayah, text = line.split("|", 2)
        expected = metadata.ayah_at(len(lines)) if len(lines) < metadata.total_ayahs else None
        if expected is None or (int(surah), int(ayah)) != (expected.surah, expected.ayah):
            raise ValueError(f"{name}:{number}: expected ayah {expected}, found {surah}:{ayah}")
        lines.append(text)
    if len(lines) != metadata.total_ayahs:
        raise ValueError(f"{name}: {len(lines)} ayahs, expected {metadata.total_ayahs}")
    return QuranText(name, tuple(lines))


@functools.cache
def load_text(name: str = ARABIC_FILE) -> QuranText:
    """`load_text()` is the Arabic; `load_text(TRANSLATION_FILE)` Pickthall's. Parsed once."""
    return parse_text(name, (files(_DATA_PACKAGE) / name).read_bytes())
