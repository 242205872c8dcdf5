"""Which surah (and ayah) each file of a reciter's download holds, read from its name alone.

Downloads come named many ways: mp3quran's `001.mp3`..`114.mp3`, everyayah's per-ayah `002255.mp3`,
`Surah 018 - Al-Kahf.mp3`, the Arabic name, or a surah folder of numbered ayah files. Every file ends
as exactly one of: a Match, Ignored (artwork, playlists, OS litter: listed, not errors), or
Unrecognised with a reason the admin can act on. Nothing is guessed: names go through find_surah's
exact lookup, numbers are checked against Tanzil's counts, and a number and a name that disagree,
or two files for one recitation, are reported rather than resolved by picking one.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Literal

from quranbot.audio.source import is_macos_junk
from quranbot.quran.lookup import find_surah
from quranbot.quran.metadata import Surah, load_metadata

__all__ = [
    "AUDIO_EXTENSIONS",
    "IGNORED",
    "Classified",
    "IgnoreRule",
    "Ignored",
    "ImportPlan",
    "Key",
    "Match",
    "Scheme",
    "Unrecognised",
    "classify",
    "plan",
]

AUDIO_EXTENSIONS = frozenset({"mp3", "ogg", "opus", "oga", "m4a", "aac", "wav", "flac", "wma", "webm", "mka"})
"""Extensions (lower case, no dot) of files ffmpeg is asked to decode at import."""


@dataclass(frozen=True)
class IgnoreRule:
    """A family of files that travel with recitations but are not audio: skipped without alarm."""

    why: str
    extensions: frozenset[str] = frozenset()  # lower case, no dot
    names: frozenset[str] = frozenset()  # whole file names, casefolded

    def applies(self, name: str) -> bool:
        folded = name.casefold()
        return folded in self.names or PurePosixPath(folded).suffix.lstrip(".") in self.extensions


IGNORED: tuple[IgnoreRule, ...] = (
    IgnoreRule(
        "image",
        extensions=frozenset(
            {"jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff", "ico", "heic", "svg", "avif"}
        ),
    ),
    IgnoreRule("playlist", extensions=frozenset({"m3u", "m3u8", "pls", "xspf", "wpl", "cue", "asx"})),
    IgnoreRule(
        "text or document",
        extensions=frozenset(
            {"txt", "nfo", "pdf", "md", "rtf", "doc", "docx", "htm", "html", "url", "log", "lrc", "srt"}
        ),
    ),
    IgnoreRule("checksum list", extensions=frozenset({"sfv", "md5", "sha1", "sha256"})),
    IgnoreRule(
        "operating-system file",
        names=frozenset({".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", ".directory", "icon\r"}),
    ),
)
"""What is ignored, by extension or exact name. Anything else that is not audio is Unrecognised."""

# "surah" in Arabic, built from code points (no Arabic literals in source): seen, waw, reh and teh
# marbuta; the second spelling ends in heh, as the word is often typed.
_ARABIC_SURAH_WORDS = ("\u0633\u0648\u0631\u0629", "\u0633\u0648\u0631\u0647")
_SEP = r"[\s_.\-]"
"""Separators people put between a number and a name: space, underscore, dot, hyphen."""

SURAH_WORD = re.compile(
    rf"(?:suratul|suratu|surat|surah|sura|{'|'.join(_ARABIC_SURAH_WORDS)})(?:{_SEP}+|(?=\d))",
    re.IGNORECASE,
)
"""A leading "Surah " ("Surat_", "Sura-", Arabic "surah"), optionally glued to a number: "Surah018"."""
EVERYAYAH = re.compile(r"(?P<surah>\d{3})(?P<ayah>\d{3})")
"""everyayah.com per-ayah names: exactly six digits, SSSAAA; `SSS000` is the bismillah."""
BARE_NUMBER = re.compile(r"\d{1,3}")
"""A plain number: a surah (`018`, `18`), or an ayah when its folder is a surah."""
NUMBER_THEN_NAME = re.compile(rf"(?P<number>\d{{1,3}}){_SEP}+(?P<name>.*[^\W\d_].*)")
"""A number, separators, then text with at least one letter: `018 - Al-Kahf`, `18-al-kahf`."""
ONLY_NUMBERS = re.compile(rf"\d+(?:{_SEP}+\d+)*")
"""Digits only, maybe several groups (`0018`, `018 001`): no scheme reads these."""


class Scheme(StrEnum):
    """How a file's name was read; the plan counts files per scheme so the report can show them."""

    NUMBER = "surah number"  # 001.mp3, 1.mp3, Surah 018.mp3
    NUMBER_AND_NAME = "surah number and name"  # Surah 018 - Al-Kahf.mp3, 18-al-kahf.mp3
    NAME = "surah name"  # Al-Kahf.mp3, Kahf.mp3, the Arabic name
    EVERYAYAH = "everyayah SSSAAA"  # 018001.mp3
    FOLDER_AYAH = "surah folder, ayah number"  # 018/001.mp3, Al-Kahf/001.mp3
    FOLDER = "surah folder"  # Al-Kahf/recitation.mp3: the file name itself says nothing


Key = tuple[int, int | None]
"""(surah, ayah): ayah None is the whole surah, 0 the bismillah file of a per-ayah set."""


@dataclass(frozen=True)
class Match:
    relative: str
    surah: int
    ayah: int | None
    scheme: str

    @property
    def key(self) -> Key:
        return (self.surah, self.ayah)


@dataclass(frozen=True)
class Unrecognised:
    relative: str
    reason: str


@dataclass(frozen=True)
class Ignored:
    relative: str
    why: str


Classified = Match | Unrecognised | Ignored


# --- reading one name ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stated:
    """A surah a name states on its own (a stem or a folder), not yet checked against 1..114."""

    number: int
    scheme: Scheme


@dataclass(frozen=True)
class _Conflict:
    """A name that states a surah twice, differently: reported, never resolved by picking one."""

    reason: str


def _without_surah_word(text: str) -> tuple[bool, str]:
    """Drop a leading "Surah"/Arabic "surah" word; say whether there was one (it makes a bare number
    a surah, never an ayah)."""
    text = text.strip()
    found = SURAH_WORD.match(text)
    return (True, text[found.end() :]) if found else (False, text)


def _named(text: str) -> Surah | None:
    """The surah `text` names exactly, by transliteration, meaning or Arabic name. Digits are not
    names: find_surah would read them as a number."""
    _, text = _without_surah_word(text)
    if not text or text.isdecimal():
        return None
    return find_surah(text)


def _label(number: int) -> str:
    """`surah 18 (Al-Kahf)`, or just `surah 115` when no such surah exists."""
    surahs = load_metadata().surahs
    return f"surah {number} ({surahs[number - 1].name})" if 1 <= number <= len(surahs) else f"surah {number}"


def _numbered(number: int, name: str) -> _Stated | _Conflict:
    """`018 Al-Kahf`: the name confirms the number, or is unknown to find_surah (a reciter's own
    spelling, "Al-Kahf (Mishary)") and the number wins; a name of another surah is a conflict.
    A number outside 1..114 is left for the bounds check, whose message is the plainer one."""
    named = _named(name)
    if named is None or named.number == number or _surah_problem(number) is not None:
        return _Stated(number, Scheme.NUMBER_AND_NAME)
    return _Conflict(
        f"the number says {_label(number)} but the name {name.strip()!r} is {_label(named.number)}"
    )


def _read_surah(text: str) -> _Stated | _Conflict | None:
    """The surah a stem or folder name states by number, number and name, or name alone."""
    _, rest = _without_surah_word(text)
    if BARE_NUMBER.fullmatch(rest):
        return _Stated(int(rest), Scheme.NUMBER)
    numbered = NUMBER_THEN_NAME.fullmatch(rest)
    if numbered:
        return _numbered(int(numbered["number"]), numbered["name"])
    named = _named(rest)
    return _Stated(named.number, Scheme.NAME) if named else None


@functools.lru_cache(maxsize=1024)
def _folder_surah(folder: str) -> int | _Conflict | None:
    """The surah a folder is named for, if any. An out-of-range number (`128` for a bitrate,
    `2024` for a year) is just not a surah folder."""
    reading = _read_surah(folder) if folder else None
    if isinstance(reading, _Stated):
        return reading.number if _surah_problem(reading.number) is None else None
    return reading


# --- bounds --------------------------------------------------------------------------------------


def _surah_problem(surah: int) -> str | None:
    count = len(load_metadata().surahs)
    return None if 1 <= surah <= count else f"surah {surah} does not exist (1–{count})"


def _checked(relative: str, surah: int, ayah: int | None, scheme: Scheme) -> Match | Unrecognised:
    """A Match if Tanzil's data has this surah and ayah; ayah 0 (bismillah) is allowed in any surah."""
    problem = _surah_problem(surah)
    if problem is not None:
        return Unrecognised(relative, problem)
    if ayah:
        try:
            load_metadata().check_ayah(surah, ayah)
        except ValueError as exc:  # the metadata's own wording: "Surah 108 (...) has 3 ayahs; ..."
            return Unrecognised(relative, str(exc))
    return Match(relative, surah, ayah, str(scheme))


# --- classifying a file --------------------------------------------------------------------------


def _ignored_because(path: PurePosixPath) -> str | None:
    if is_macos_junk(path.as_posix()):
        return "macOS metadata"
    for rule in IGNORED:
        if rule.applies(path.name):
            return rule.why
    if path.name.startswith("."):
        return "hidden file"
    return None


def _not_audio(path: PurePosixPath) -> str | None:
    extension = path.suffix.lower().lstrip(".")
    if not extension:
        return "no file extension, so not recognisable as audio"
    if extension not in AUDIO_EXTENSIONS:
        return f"not an audio file (.{extension})"
    return None


def _unreadable_name(stem: str) -> str:
    """Why no scheme reads this stem, with the accepted forms as a hint."""
    example = load_metadata().surah(18).name
    forms = f"018, 018 {example}, {example}, or per-ayah 018001 or 018/001"
    if ONLY_NUMBERS.fullmatch(stem):
        return f"{stem!r} is not a number any scheme uses (expected {forms})"
    return f"{stem!r} names no surah (expected {forms})"


def _classify_audio(path: PurePosixPath) -> Match | Unrecognised:
    """The file's own name first; its parent folder only for a bare ayah number, or when the file
    name says nothing at all."""
    relative = path.as_posix()
    had_surah_word, stem = _without_surah_word(path.stem)
    folder = _folder_surah(path.parent.name)
    everyayah = EVERYAYAH.fullmatch(stem)
    if everyayah and not had_surah_word:
        return _checked(relative, int(everyayah["surah"]), int(everyayah["ayah"]), Scheme.EVERYAYAH)
    if BARE_NUMBER.fullmatch(stem) and not had_surah_word and folder is not None:
        if isinstance(folder, _Conflict):
            return Unrecognised(relative, f"folder {path.parent.name!r}: {folder.reason}")
        return _checked(relative, folder, int(stem), Scheme.FOLDER_AYAH)
    reading = _read_surah(stem)
    if isinstance(reading, _Stated):
        return _checked(relative, reading.number, None, reading.scheme)
    if isinstance(reading, _Conflict):
        return Unrecognised(relative, reading.reason)
    if isinstance(folder, int):
        return _checked(relative, folder, None, Scheme.FOLDER)
    return Unrecognised(relative, _unreadable_name(path.stem))


def classify(relative: str) -> Classified:
    """What one file (a POSIX path inside the source) is: a surah or ayah, ignored, or unrecognised."""
    path = PurePosixPath(relative)
    why = _ignored_because(path)
    if why is not None:
        return Ignored(relative, why)
    problem = _not_audio(path)
    if problem is not None:
        return Unrecognised(relative, problem)
    return _classify_audio(path)


# --- the plan for a whole source -----------------------------------------------------------------


@dataclass
class ImportPlan:
    """Everything found in a source, ready for the report and the transcoder.

    `matches` holds only keys with exactly one file: for two files of one recitation the importer
    cannot know which is right, so all of them go to `duplicates` and none is imported.
    `missing_surahs` and `incomplete_surahs` describe what `matches` will give, so a surah whose
    only files are duplicates counts as missing too.
    """

    matches: dict[Key, Match] = field(default_factory=dict)
    duplicates: list[tuple[Key, list[str]]] = field(default_factory=list)
    unrecognised: list[Unrecognised] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    kind: Literal["surah", "ayah", "both"] | None = None  # None: no audio recognised at all
    missing_surahs: list[int] = field(default_factory=list)
    incomplete_surahs: dict[int, list[int]] = field(default_factory=dict)
    schemes: Counter[str] = field(default_factory=Counter)


def _kind(keys: Iterable[Key]) -> Literal["surah", "ayah", "both"] | None:
    kinds = {"surah" if ayah is None else "ayah" for _, ayah in keys}
    if not kinds:
        return None
    return "both" if len(kinds) == 2 else ("surah" if "surah" in kinds else "ayah")


def _incomplete(matches: dict[Key, Match]) -> dict[int, list[int]]:
    """Per-ayah surahs (ayah files, no whole-surah file) and the ayahs they lack; the bismillah
    (ayah 0) is optional, so it is never listed as lacking."""
    meta = load_metadata()
    whole = {surah for surah, ayah in matches if ayah is None}
    present: dict[int, set[int]] = {}
    for surah, ayah in matches:
        if ayah is not None and surah not in whole:
            present.setdefault(surah, set()).add(ayah)
    lacking = {
        surah: [a for a in range(1, meta.ayah_count(surah) + 1) if a not in ayahs]
        for surah, ayahs in sorted(present.items())
    }
    return {surah: ayahs for surah, ayahs in lacking.items() if ayahs}


def plan(relatives: list[str]) -> ImportPlan:
    """Classify every file and gather the results into what the import will do and what it lacks."""
    result = ImportPlan()
    by_key: dict[Key, list[Match]] = {}
    for relative in relatives:
        item = classify(relative)
        if isinstance(item, Match):
            by_key.setdefault(item.key, []).append(item)
            result.schemes[item.scheme] += 1
        elif isinstance(item, Unrecognised):
            result.unrecognised.append(item)
        else:
            result.ignored.append(item)
    for key in sorted(by_key, key=lambda k: (k[0], -1 if k[1] is None else k[1])):
        found = by_key[key]
        if len(found) == 1:
            result.matches[key] = found[0]
        else:
            result.duplicates.append((key, sorted(m.relative for m in found)))
    result.kind = _kind(by_key)
    covered = {surah for surah, _ in result.matches}
    result.missing_surahs = [s.number for s in load_metadata().surahs if s.number not in covered]
    result.incomplete_surahs = _incomplete(result.matches)
    return result
