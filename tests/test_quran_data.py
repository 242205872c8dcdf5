"""The shipped Tanzil files are intact, and the metadata and surah lookup built on them are right.

Expected names are always read from the XML itself, never typed here: a test must not become a
second, unchecked copy of the Quran's names.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections import Counter
from importlib.resources import files

import pytest

from quranbot.quran import (
    AyahRef,
    QuranMetadata,
    find_surah,
    load_metadata,
    parse_metadata,
    search_surahs,
)

DATA = files("quranbot.data")

SHA256 = {
    "quran-data.xml": "f3ad4a2d1a7c9b9ee53c4ca895bf27213bd8bf97b6e66e61c38708bf8199d6b7",
    "quran-uthmani.txt": "5dc0f31e4f55e538d60636b32e42bd2dbf93a446dd2acba0386a4d1179d273ff",
    "en.pickthall.txt": "4aabbfa9d96796f5a6b0217d2c39dce1a3084f772bf6f2650e37082a774e3cc7",
}

VERSE_LINE = re.compile(r"^(\d+)\|(\d+)\|")
FATHA, SHADDA, TATWEEL, ALEF_WASLA = "\u064e", "\u0651", "\u0640", "\u0671"


@pytest.fixture(scope="module")
def meta() -> QuranMetadata:
    return load_metadata()


@pytest.fixture(scope="module")
def raw_suras() -> list[dict[str, str]]:
    """The <sura> attributes straight from the XML, independent of the module under test."""
    root = ET.fromstring(DATA.joinpath("quran-data.xml").read_bytes())
    return [dict(e.attrib) for e in root.iter("sura")]


def verse_refs(name: str) -> list[tuple[int, int]]:
    text = DATA.joinpath(name).read_text(encoding="utf-8")
    return [(int(m[1]), int(m[2])) for line in text.splitlines() if (m := VERSE_LINE.match(line))]


# --- the files themselves -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHA256))
def test_shipped_file_is_byte_for_byte_copy(name: str) -> None:
    assert hashlib.sha256(DATA.joinpath(name).read_bytes()).hexdigest() == SHA256[name]


@pytest.mark.parametrize("name", ["quran-uthmani.txt", "en.pickthall.txt"])
def test_text_lines_match_xml_ayah_counts(name: str, meta: QuranMetadata) -> None:
    refs = verse_refs(name)
    assert len(refs) == meta.total_ayahs == 6236
    lines_per_surah = Counter(surah for surah, _ in refs)
    assert lines_per_surah == {s.number: s.ayah_count for s in meta.surahs}
    # ...and each surah's lines are ayahs 1..n in order, so line k is ayah_at(k).
    assert refs == [(meta.ayah_at(i).surah, meta.ayah_at(i).ayah) for i in range(len(refs))]


# --- facts -----------------------------------------------------------------------------------


def test_headline_facts(meta: QuranMetadata) -> None:
    assert len(meta.surahs) == 114
    assert meta.total_ayahs == 6236 == sum(s.ayah_count for s in meta.surahs)
    assert Counter(s.revelation_type for s in meta.surahs) == {"Meccan": 86, "Medinan": 28}
    assert meta.juz_count == 30
    assert meta.page_count == 604
    assert meta.sajda_count == 15
    assert meta.ayah_count(2) == 286
    assert meta.ayah_count(108) == 3
    assert sorted(s.revelation_order for s in meta.surahs) == list(range(1, 115))
    assert {s.type for s in meta.sajdas} == {"recommended", "obligatory"}


def test_surahs_match_raw_xml(meta: QuranMetadata, raw_suras: list[dict[str, str]]) -> None:
    assert len(raw_suras) == len(meta.surahs)
    for raw, surah in zip(raw_suras, meta.surahs, strict=True):
        assert (surah.number, surah.ayah_count, surah.start) == (
            int(raw["index"]),
            int(raw["ayas"]),
            int(raw["start"]),
        )
        assert (surah.arabic_name, surah.name, surah.english_name) == (
            raw["name"],
            raw["tname"],
            raw["ename"],
        )
        assert (surah.revelation_type, surah.revelation_order, surah.rukus) == (
            raw["type"],
            int(raw["order"]),
            int(raw["rukus"]),
        )


def test_starts_are_cumulative_ayah_counts(meta: QuranMetadata) -> None:
    running = 0
    for surah in meta.surahs:
        assert surah.start == running
        running += surah.ayah_count
    assert running == meta.total_ayahs


def test_first_and_last_positions(meta: QuranMetadata) -> None:
    assert meta.juz_start(1) == AyahRef(1, 1)
    assert meta.page_start(1) == AyahRef(1, 1)
    assert meta.page_of(1, 1) == 1
    assert meta.juz_of(1, 1) == 1
    assert meta.page_of(114, 6) == 604 == meta.page_count
    assert meta.juz_of(114, 6) == 30
    assert meta.ayah_index(1, 1) == 0
    assert meta.ayah_index(114, 6) == meta.total_ayahs - 1
    assert str(meta.ayah_at(meta.total_ayahs - 1)) == "114:6"


def test_each_juz_and_page_starts_where_the_xml_says(meta: QuranMetadata) -> None:
    for n in range(1, meta.juz_count + 1):
        ref = meta.juz_start(n)
        assert meta.juz_of(ref.surah, ref.ayah) == n
        if n > 1:  # the ayah just before belongs to the previous juz
            before = meta.ayah_at(meta.ayah_index(ref.surah, ref.ayah) - 1)
            assert meta.juz_of(before.surah, before.ayah) == n - 1
    for n in range(1, meta.page_count + 1):
        ref = meta.page_start(n)
        assert meta.page_of(ref.surah, ref.ayah) == n


def test_ayah_index_round_trips(meta: QuranMetadata) -> None:
    for index in range(meta.total_ayahs):
        ref = meta.ayah_at(index)
        assert meta.ayah_index(ref.surah, ref.ayah) == index


def test_sajda_lookup(meta: QuranMetadata) -> None:
    for sajda in meta.sajdas:
        assert meta.sajda_at(sajda.ref.surah, sajda.ref.ayah) == sajda
    assert meta.sajda_at(1, 1) is None


def test_metadata_is_parsed_once() -> None:
    assert load_metadata() is load_metadata()


def test_parse_rejects_inconsistent_xml() -> None:
    xml = DATA.joinpath("quran-data.xml").read_bytes()
    broken = xml.replace(b'ayas="286" start="7"', b'ayas="286" start="8"', 1)
    assert broken != xml
    with pytest.raises(ValueError, match="out of sequence"):
        parse_metadata(broken)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [0, 115, -1])
def test_bad_surah_number(meta: QuranMetadata, number: int) -> None:
    with pytest.raises(ValueError, match=f"1–114, got {number}"):
        meta.surah(number)
    with pytest.raises(ValueError, match="1–114"):
        meta.check_ayah(number, 1)


@pytest.mark.parametrize("ayah", [0, 4, -1])
def test_bad_ayah_number(meta: QuranMetadata, ayah: int) -> None:
    name = meta.surah(108).name
    expected = f"Surah 108 ({name}) has 3 ayahs; {ayah} is out of range 1–3"
    with pytest.raises(ValueError, match=re.escape(expected)):
        meta.check_ayah(108, ayah)
    with pytest.raises(ValueError, match="1–3"):
        meta.page_of(108, ayah)


def test_good_ayah_is_returned(meta: QuranMetadata) -> None:
    assert meta.check_ayah(2, 286) == AyahRef(2, 286)


@pytest.mark.parametrize(("call", "message"), [("juz", "1–30"), ("page", "1–604")])
def test_bad_division_number(meta: QuranMetadata, call: str, message: str) -> None:
    start = meta.juz_start if call == "juz" else meta.page_start
    for n in (0, meta.juz_count + 1 if call == "juz" else meta.page_count + 1):
        with pytest.raises(ValueError, match=message):
            start(n)


# --- lookup ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["18", "018", " 18 ", "al kahf", "Al-Kahf", "KAHF", "alkahf", "Surah Al-Kahf"]
)
def test_find_surah_18(query: str) -> None:
    found = find_surah(query)
    assert found is not None and found.number == 18


def test_find_by_arabic_indic_digits() -> None:
    digits = "".join(chr(0x0660 + int(d)) for d in "18")
    found = find_surah(digits)
    assert found is not None and found.number == 18


def test_find_by_english_name_from_xml(meta: QuranMetadata) -> None:
    english = meta.surah(18).english_name
    for query in (english, english.upper(), english.lower().removeprefix("the ")):
        found = find_surah(query)
        assert found is not None and found.number == 18


def test_find_by_arabic_name_from_xml(raw_suras: list[dict[str, str]]) -> None:
    arabic = raw_suras[17]["name"]  # surah 18, as spelled in the XML
    assert re.search("[\u064b-\u065f\u0670]", arabic) is None  # the XML writes names bare
    with_tashkeel = "".join(ch + FATHA for ch in arabic)
    with_tatweel_and_shadda = arabic[:3] + TATWEEL + SHADDA + arabic[3:]
    uthmani_article = ALEF_WASLA + arabic[1:]
    assert arabic.startswith("\u0627\u0644")  # alef-lam, the definite article
    without_article = arabic[2:]
    for query in (arabic, with_tashkeel, with_tatweel_and_shadda, uthmani_article, without_article):
        found = find_surah(query)
        assert found is not None and found.number == 18, query


def test_arabic_hamza_is_optional(meta: QuranMetadata) -> None:
    hamza_alef = "\u0623"  # alef with hamza above; users often type a bare alef instead
    with_hamza = [s for s in meta.surahs if hamza_alef in s.arabic_name]
    assert with_hamza
    for surah in with_hamza:
        assert find_surah(surah.arabic_name.replace(hamza_alef, "\u0627")) == surah


def test_every_surah_is_found_by_each_of_its_names(meta: QuranMetadata) -> None:
    shared_meanings = {n for n, c in Counter(s.english_name for s in meta.surahs).items() if c > 1}
    for surah in meta.surahs:
        queries = [str(surah.number), surah.name, surah.arabic_name]
        if surah.english_name not in shared_meanings:
            queries.append(surah.english_name)
        for query in queries:
            assert find_surah(query) == surah, query


def test_shared_english_meaning_is_ambiguous_not_guessed(meta: QuranMetadata) -> None:
    counts = Counter(s.english_name for s in meta.surahs)
    shared = [name for name, count in counts.items() if count > 1]
    assert shared, "the XML gives two surahs the same English meaning"
    for name in shared:
        holders = [s for s in meta.surahs if s.english_name == name]
        assert find_surah(name) is None
        assert search_surahs(name)[: len(holders)] == holders


def test_typo_is_offered_but_not_guessed() -> None:
    assert search_surahs("al-baqra")[0].number == 2
    assert find_surah("al-baqra") is None


def test_yaseen_spellings(meta: QuranMetadata) -> None:
    assert meta.surah(36).name.casefold() == "yaseen"  # the XML's spelling, so exact
    found = find_surah("yaseen")
    assert found is not None and found.number == 36
    # "yasin" is only a fuzzy match for the XML's "Yaseen" (difflib ratio ~0.73).
    assert search_surahs("yasin")[0].number == 36


def test_nonsense_matches_nothing() -> None:
    assert find_surah("zzzz") is None
    assert search_surahs("zzzz") == []
    assert find_surah("") is None
    assert find_surah("0") is None
    assert find_surah("115") is None


def test_search_is_capped_and_ranked() -> None:
    results = search_surahs("al")
    assert 0 < len(results) <= 25
    assert len(search_surahs("al", limit=5)) == 5
    assert search_surahs("al", limit=0) == []


def test_empty_search_lists_surahs_in_order() -> None:
    assert [s.number for s in search_surahs("")] == list(range(1, 26))
    assert [s.number for s in search_surahs("   ", limit=3)] == [1, 2, 3]


def test_number_search_offers_exact_then_prefix() -> None:
    numbers = [s.number for s in search_surahs("1")]
    assert numbers[0] == 1
    assert numbers[1:] == [*range(10, 20), *range(100, 115)][:24]
    assert [s.number for s in search_surahs("114")] == [114]


def test_exact_name_ranks_before_prefix_and_fuzzy(meta: QuranMetadata) -> None:
    kahf = meta.surah(18)
    results = search_surahs(kahf.name)
    assert results[0] == kahf
    assert search_surahs("kah")[0] == kahf  # prefix
