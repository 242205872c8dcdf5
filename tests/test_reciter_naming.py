"""Mapping a reciter's files to surahs and ayahs, on real folders and zips built in tmp_path.

Surah names are read from the shipped metadata, never typed here (the Arabic "surah" word, which the
metadata does not hold, is built from code points). The files are small dummies: naming never
decodes audio.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from quranbot.audio.naming import (
    AUDIO_EXTENSIONS,
    Ignored,
    ImportPlan,
    Match,
    Scheme,
    Unrecognised,
    classify,
    plan,
)
from quranbot.audio.source import open_source
from quranbot.quran import find_surah, load_metadata

META = load_metadata()
KAHF = META.surah(18).name  # the XML's transliteration, "Al-..." form
KAHF_BARE = KAHF.split("-", 1)[1]  # without the article
FATIHA = META.surah(1).name
KAWTHAR = META.surah(108)
ARABIC_SURAH = "\u0633\u0648\u0631\u0629"  # "surah": seen, waw, reh, teh marbuta
ARABIC_SURAH_HEH = "\u0633\u0648\u0631\u0647"  # the same word ending in heh, as often typed
ALL_SURAHS = list(range(1, 115))


def build_folder(root: Path, names: Iterable[str]) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not decoded in these tests")
    return root


def build_zip(path: Path, names: Iterable[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, b"not decoded in these tests")
    return path


def plan_source(path: Path) -> ImportPlan:
    with open_source(path) as source:
        return plan([f.relative for f in source.files()])


def match(relative: str) -> tuple[int, int | None, str]:
    found = classify(relative)
    assert isinstance(found, Match), found
    return found.surah, found.ayah, found.scheme


def reason(relative: str) -> str:
    found = classify(relative)
    assert isinstance(found, Unrecognised), found
    return found.reason


# --- one file at a time --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("001.mp3", (1, None, Scheme.NUMBER)),
        ("1.mp3", (1, None, Scheme.NUMBER)),
        ("114.MP3", (114, None, Scheme.NUMBER)),
        ("Surah 018.ogg", (18, None, Scheme.NUMBER)),
        ("surah_18.opus", (18, None, Scheme.NUMBER)),
        (f"Surah 018 - {KAHF}.mp3", (18, None, Scheme.NUMBER_AND_NAME)),
        (f"018 {KAHF}.m4a", (18, None, Scheme.NUMBER_AND_NAME)),
        (f"18-{KAHF.lower()}.flac", (18, None, Scheme.NUMBER_AND_NAME)),
        (f"018.{KAHF}.wav", (18, None, Scheme.NUMBER_AND_NAME)),
        (f"018 - {KAHF} (128kbps).mp3", (18, None, Scheme.NUMBER_AND_NAME)),  # unknown name: number wins
        (f"{KAHF}.mp3", (18, None, Scheme.NAME)),
        (f"{KAHF_BARE}.mp3", (18, None, Scheme.NAME)),
        (f"surah {KAHF.lower()}.mp3", (18, None, Scheme.NAME)),
        (f"SURAH_{KAHF_BARE.upper()}.mp3", (18, None, Scheme.NAME)),
        ("001001.mp3", (1, 1, Scheme.EVERYAYAH)),
        ("002255.mp3", (2, 255, Scheme.EVERYAYAH)),
        ("001000.mp3", (1, 0, Scheme.EVERYAYAH)),
        ("114006.mp3", (114, 6, Scheme.EVERYAYAH)),
    ],
)
def test_file_name_schemes(relative: str, expected: tuple[int, int | None, str]) -> None:
    assert match(relative) == expected


def test_a_number_with_a_name_find_surah_does_not_know_keeps_the_number() -> None:
    misspelt = FATIHA.replace("aa", "a")  # a common spelling that is not the XML's
    assert misspelt != FATIHA and find_surah(misspelt) is None
    assert match(f"001_{misspelt}.mp3") == (1, None, Scheme.NUMBER_AND_NAME)


def test_a_number_and_a_name_that_disagree_are_reported_with_both() -> None:
    text = reason(f"018 {FATIHA}.mp3")
    assert "surah 18" in text and KAHF in text and "surah 1 " in text and FATIHA in text


@pytest.mark.parametrize("surah", [1, 18, 36, 112, 114])
def test_arabic_names_with_and_without_the_surah_word(surah: int) -> None:
    arabic = META.surah(surah).arabic_name
    assert match(f"{arabic}.mp3") == (surah, None, Scheme.NAME)
    assert match(f"{ARABIC_SURAH} {arabic}.mp3") == (surah, None, Scheme.NAME)
    assert match(f"{ARABIC_SURAH_HEH}_{arabic}.ogg") == (surah, None, Scheme.NAME)
    assert match(f"{surah:03d} - {ARABIC_SURAH} {arabic}.mp3") == (surah, None, Scheme.NUMBER_AND_NAME)
    assert match(f"{arabic}/003.mp3") == (surah, 3, Scheme.FOLDER_AYAH)


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("018/001.mp3", (18, 1, Scheme.FOLDER_AYAH)),
        ("18/110.mp3", (18, 110, Scheme.FOLDER_AYAH)),
        (f"{KAHF}/001.mp3", (18, 1, Scheme.FOLDER_AYAH)),
        (f"Reciter/Surah 018 - {KAHF}/2.mp3", (18, 2, Scheme.FOLDER_AYAH)),
        ("018/000.mp3", (18, 0, Scheme.FOLDER_AYAH)),
        ("Reciter Name/018.mp3", (18, None, Scheme.NUMBER)),
        ("Reciter/128/001.mp3", (1, None, Scheme.NUMBER)),  # a bitrate folder is not a surah
        (f"{KAHF}/Surah 018.mp3", (18, None, Scheme.NUMBER)),  # "Surah N" is never an ayah
        ("Reciter/018/018001.mp3", (18, 1, Scheme.EVERYAYAH)),
        (f"Reciter/{KAHF}/recitation.mp3", (18, None, Scheme.FOLDER)),  # the file name says nothing
        (f"{FATIHA}/{KAHF}.mp3", (18, None, Scheme.NAME)),  # the file name comes first
    ],
)
def test_folder_schemes(relative: str, expected: tuple[int, int | None, str]) -> None:
    assert match(relative) == expected


def test_a_folder_whose_number_and_name_disagree_is_not_trusted_for_ayahs() -> None:
    text = reason(f"018 {FATIHA}/001.mp3")
    assert text.startswith(f"folder '018 {FATIHA}':") and KAHF in text and FATIHA in text


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("115.mp3", "surah 115 does not exist (1–114)"),
        ("000.mp3", "surah 0 does not exist (1–114)"),
        ("Reciter/115.mp3", "surah 115 does not exist (1–114)"),
        ("115001.mp3", "surah 115 does not exist (1–114)"),
        (f"115 {KAHF}.mp3", "surah 115 does not exist (1–114)"),
    ],
)
def test_surahs_outside_1_to_114(relative: str, expected: str) -> None:
    assert reason(relative) == expected


def test_ayahs_beyond_the_surahs_count_use_the_metadatas_wording() -> None:
    text = reason("108004.mp3")
    assert text.startswith(f"Surah 108 ({KAWTHAR.name}) has {KAWTHAR.ayah_count} ayahs; 4 is out of range")
    assert KAWTHAR.ayah_count == 3
    assert reason("018/111.mp3").startswith(f"Surah 18 ({KAHF}) has 110 ayahs; 111 is out of range")


@pytest.mark.parametrize(
    ("relative", "why"),
    [
        ("cover.jpg", "image"),
        ("Reciter/Folder.JPG", "image"),
        ("playlist.m3u", "playlist"),
        ("list.m3u8", "playlist"),
        ("radio.pls", "playlist"),
        ("info.nfo", "text or document"),
        ("readme.txt", "text or document"),
        ("booklet.pdf", "text or document"),
        (".DS_Store", "operating-system file"),
        ("Reciter/Thumbs.db", "operating-system file"),
        ("desktop.ini", "operating-system file"),
        ("__MACOSX/._001.mp3", "macOS metadata"),
        ("Reciter/._018.mp3", "macOS metadata"),
        (".hidden.mp3", "hidden file"),
    ],
)
def test_ignored_files(relative: str, why: str) -> None:
    assert classify(relative) == Ignored(relative, why)


@pytest.mark.parametrize(
    ("relative", "fragment"),
    [
        ("video.mp4", "not an audio file (.mp4)"),
        ("setup.exe", "not an audio file (.exe)"),
        ("README", "no file extension"),
        ("hello.mp3", "'hello' names no surah"),
        ("0018.mp3", "'0018' is not a number any scheme uses"),
        ("1234567.mp3", "'1234567' is not a number any scheme uses"),
        ("018 001.mp3", "'018 001' is not a number any scheme uses"),
        ("Reciter/track.mp3", "'track' names no surah"),
    ],
)
def test_unrecognised_files_say_why(relative: str, fragment: str) -> None:
    assert fragment in reason(relative)


def test_every_audio_extension_is_accepted() -> None:
    for extension in AUDIO_EXTENSIONS:
        assert match(f"018.{extension}") == (18, None, Scheme.NUMBER)


# --- whole sources -------------------------------------------------------------------------------


def test_an_mp3quran_style_zip_maps_all_114_surahs(tmp_path: Path) -> None:
    archive = build_zip(tmp_path / "reciter.zip", [f"Reciter Name/{n:03d}.mp3" for n in ALL_SURAHS])
    result = plan_source(archive)
    assert sorted(result.matches) == [(n, None) for n in ALL_SURAHS]
    assert result.matches[(18, None)].relative == "Reciter Name/018.mp3"
    assert result.kind == "surah"
    assert result.missing_surahs == [] and result.incomplete_surahs == {}
    assert result.duplicates == [] and result.unrecognised == [] and result.ignored == []
    assert result.schemes == Counter({Scheme.NUMBER: 114})


def test_an_everyayah_style_folder_with_junk(tmp_path: Path) -> None:
    fatiha = [f"001{a:03d}.mp3" for a in range(0, META.ayah_count(1) + 1)]  # with the bismillah
    kawthar = ["108000.mp3", "108001.mp3", "108003.mp3"]  # ayah 2 is missing
    junk = ["cover.jpg", "playlist.m3u", ".DS_Store", "__MACOSX/._001001.mp3", "._108001.mp3"]
    root = build_folder(tmp_path / "everyayah", [*fatiha, *kawthar, *junk])

    with open_source(root) as source:
        result = plan([f.relative for f in source.files()])
        skipped = [s.relative for s in source.skipped]
    assert skipped == ["._108001.mp3", "__MACOSX"]  # macOS junk never reaches the plan from a source
    assert result.kind == "ayah"
    assert sorted(result.matches) == [(1, a) for a in range(0, 8)] + [(108, 0), (108, 1), (108, 3)]
    assert result.incomplete_surahs == {108: [2]}
    assert result.missing_surahs == [n for n in ALL_SURAHS if n not in (1, 108)]
    assert sorted(i.relative for i in result.ignored) == [".DS_Store", "cover.jpg", "playlist.m3u"]
    assert result.unrecognised == [] and result.duplicates == []
    assert result.schemes == Counter({Scheme.EVERYAYAH: 11})

    # Given raw names (not through a Source), the macOS junk is ignored by naming itself.
    raw = plan([*fatiha, *kawthar, *junk])
    assert {i.relative: i.why for i in raw.ignored}["__MACOSX/._001001.mp3"] == "macOS metadata"
    assert raw.matches == result.matches


def test_nested_surah_folders_of_ayah_files(tmp_path: Path) -> None:
    names = [f"Reciter/018/{a:03d}.mp3" for a in range(1, 111)]
    names += [f"Reciter/{FATIHA}/{a}.mp3" for a in (1, 2, 3, 5, 6, 7)]
    names += ["Reciter/114.mp3"]
    result = plan_source(build_folder(tmp_path / "src", names))
    assert result.kind == "both"
    assert result.incomplete_surahs == {1: [4]}
    assert (114, None) in result.matches and (18, 110) in result.matches
    assert result.missing_surahs == [n for n in ALL_SURAHS if n not in (1, 18, 114)]
    assert result.schemes == Counter({Scheme.FOLDER_AYAH: 116, Scheme.NUMBER: 1})


def test_duplicates_are_all_named_and_none_is_imported(tmp_path: Path) -> None:
    names = ["018.mp3", f"Surah 18 - {KAHF}.mp3", "019.mp3", "001001.mp3", "001/001.mp3"]
    result = plan_source(build_folder(tmp_path / "src", names))
    assert result.duplicates == [
        ((1, 1), ["001/001.mp3", "001001.mp3"]),
        ((18, None), ["018.mp3", f"Surah 18 - {KAHF}.mp3"]),
    ]
    assert list(result.matches) == [(19, None)]
    assert 18 in result.missing_surahs and 1 in result.missing_surahs  # nothing of theirs imports
    assert result.kind == "both"
    assert result.schemes[Scheme.NUMBER] == 2


def test_errors_in_a_source_are_listed_with_reasons(tmp_path: Path) -> None:
    names = ["115.mp3", "000.mp3", "108004.mp3", f"018 {FATIHA}.mp3", "video.mp4", "036.mp3"]
    archive = build_zip(tmp_path / "mixed.zip", names)
    result = plan_source(archive)
    assert list(result.matches) == [(36, None)]
    reasons = {u.relative: u.reason for u in result.unrecognised}
    assert reasons["115.mp3"] == "surah 115 does not exist (1–114)"
    assert reasons["000.mp3"] == "surah 0 does not exist (1–114)"
    assert "has 3 ayahs; 4 is out of range" in reasons["108004.mp3"]
    assert KAHF in reasons[f"018 {FATIHA}.mp3"] and FATIHA in reasons[f"018 {FATIHA}.mp3"]
    assert reasons["video.mp4"] == "not an audio file (.mp4)"


def test_a_source_with_no_audio_has_no_kind_and_misses_everything(tmp_path: Path) -> None:
    result = plan_source(build_folder(tmp_path / "src", ["cover.jpg", "notes.txt"]))
    assert result.kind is None and result.matches == {}
    assert result.missing_surahs == ALL_SURAHS
    assert [i.why for i in result.ignored] == ["image", "text or document"]


def test_planning_a_full_everyayah_set_is_fast() -> None:
    """6,236 ayah files plus 114 bismillahs: the size of the largest real per-ayah set."""
    names = [f"{s.number:03d}{a:03d}.mp3" for s in META.surahs for a in range(0, s.ayah_count + 1)]
    result = plan(names)
    assert len(result.matches) == META.total_ayahs + 114
    assert result.kind == "ayah" and result.missing_surahs == [] and result.incomplete_surahs == {}
