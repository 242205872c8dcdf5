"""Ayah search finds what members type, ranks sensibly, and never alters the text it points to.

Everything runs on the shipped Tanzil files. Expected wording is checked against the raw file first,
and Arabic queries taken from the text are stripped of their marks here with a deliberately simple,
independent method, so a bug in the module's normaliser cannot hide itself.
"""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from quranbot.quran.metadata import AyahRef, load_metadata
from quranbot.quran.search import (
    SearchHit,
    arabic_spellings,
    load_index,
    normalise_arabic,
    search_ayahs,
)
from quranbot.quran.text import ARABIC_FILE, TRANSLATION_FILE, load_text

DATA = files("quranbot.data")
# Harakat, dagger alef, Quranic marks and small letters, tatweel: what a keyboard does not type.
SIMPLE_MARKS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
ALEF_WASLA, ALEF = "\u0671", "\u0627"
AYAT_AL_KURSI, FIRST_OF_AL_IMRAN = AyahRef(2, 255), AyahRef(3, 2)


def simply_stripped(text: str) -> str:
    """The Uthmani text as typed without diacritics: marks removed, alef wasla as alef, no more."""
    return SIMPLE_MARKS.sub("", text).replace(ALEF_WASLA, ALEF)


def raw_lines(name: str) -> dict[AyahRef, bytes]:
    """The data file's text field per ayah, as bytes, read without the module under test."""
    lines = {}
    for line in DATA.joinpath(name).read_bytes().split(b"\n"):
        if line and not line.startswith(b"#"):
            surah, ayah, text = line.split(b"|", 2)
            lines[AyahRef(int(surah), int(ayah))] = text
    return lines


def refs(query: str, surah: int | None = None) -> list[AyahRef]:
    """Every hit, best first."""
    return [hit.ref for hit in search_ayahs(query, surah, limit=10_000)]


@pytest.fixture(scope="module")
def arabic_raw() -> dict[AyahRef, bytes]:
    return raw_lines(ARABIC_FILE)


@pytest.fixture(scope="module")
def translation_raw() -> dict[AyahRef, bytes]:
    return raw_lines(TRANSLATION_FILE)


# --- the translation --------------------------------------------------------------------------


def test_translation_words_find_ayat_al_kursi(translation_raw: dict[AyahRef, bytes]) -> None:
    assert b"His throne includeth the heavens" in translation_raw[AYAT_AL_KURSI]
    hits = search_ayahs("Throne")
    assert all(hit.matched == "translation" for hit in hits)
    assert AYAT_AL_KURSI in [hit.ref for hit in hits]
    assert AYAT_AL_KURSI in refs("throne includeth the heavens")[:1]


def test_a_translation_phrase_finds_its_ayah_first(translation_raw: dict[AyahRef, bytes]) -> None:
    assert translation_raw[AyahRef(112, 1)] == b"Say: He is Allah, the One!"
    assert refs("He is Allah, the One")[0] == AyahRef(112, 1)
    assert refs("he is allah the one!!")[0] == AyahRef(112, 1)  # case and punctuation do not matter


def test_english_prefixes_plurals_apostrophes_and_hyphens(translation_raw: dict[AyahRef, bytes]) -> None:
    assert b"believers" in translation_raw[AyahRef(2, 223)]
    assert AyahRef(2, 223) in refs("believe")  # 4+ letters: a prefix
    assert b"gods" in translation_raw[AyahRef(6, 74)]
    assert AyahRef(6, 74) in refs("god")  # three letters: the word or its plural in -s
    assert b"Allah's" in translation_raw[AyahRef(2, 61)]
    assert AyahRef(2, 61) in refs("Allah's revelations")
    assert b"wrong-doers" in translation_raw[AyahRef(2, 35)]
    assert AyahRef(2, 35) in refs("wrongdoers") and AyahRef(2, 35) in refs("wrong-doers")
    go = refs("go")  # two letters: the word itself, not "good" or "goes"
    assert go and all("go" in re.findall("[a-z]+", translation_raw[ref].decode().lower()) for ref in go)


# --- the Arabic -----------------------------------------------------------------------------------


def test_arabic_typed_without_diacritics_finds_al_ikhlas_first() -> None:
    hits = search_ayahs("قل هو الله احد")
    assert hits[0] == SearchHit(AyahRef(112, 1), "arabic")
    assert all(hit.matched == "arabic" for hit in hits)


def test_arabic_finds_ayat_al_kursi_and_its_twin_in_al_imran() -> None:
    query = " ".join(["الله لا اله الا", "هو الحي القيوم"])
    assert set(refs(query)[:2]) == {AYAT_AL_KURSI, FIRST_OF_AL_IMRAN}


def test_basmala_words_find_al_fatiha_but_not_every_surah_head() -> None:
    found = refs("الرحمن الرحيم")
    assert AyahRef(1, 1) in found and AyahRef(1, 3) in found and AyahRef(27, 30) in found
    # Tanzil writes the basmala at the head of 2:1, 3:1, ...; it is not part of those ayahs.
    assert load_text().ayah(2, 1).startswith(load_text().ayah(1, 1))
    assert AyahRef(2, 1) not in found
    assert len(found) < 10


@pytest.mark.parametrize(
    ("query", "ref"),
    [
        ("الصلاة", AyahRef(2, 3)),  # ٱلصَّلَوٰةَ: waw with a dagger alef is modern alef
        ("الصلوة", AyahRef(2, 3)),  # ...and the Uthmani spelling typed plainly
        ("العالمين", AyahRef(1, 2)),  # dagger alef written out
        ("السماوات", AyahRef(2, 33)),  # two dagger alefs, one on a waw that stays
        ("السموات", AyahRef(2, 33)),
        ("إبراهيم", AyahRef(2, 124)),  # small high yeh written out
        ("ابرهيم", AyahRef(2, 124)),
        ("إسرائيل", AyahRef(2, 40)),  # bare hamza seated on yeh, as modern spelling does
        ("شيئا", AyahRef(2, 48)),  # hamza on a tatweel
        ("القرآن", AyahRef(2, 185)),
        ("القران", AyahRef(2, 185)),  # no hamza at all
        ("الآخرة", AyahRef(2, 4)),
        ("الملائكة", AyahRef(2, 30)),  # لِلْمَلَـٰٓئِكَةِ: li before the article
        ("الربا", AyahRef(2, 275)),  # ٱلرِّبَوٰا۟ with its silent alef
        ("داوود", AyahRef(2, 251)),  # small waw written out
        ("يا أيها الذين آمنوا", AyahRef(2, 104)),  # vocative joined, as Uthmani writes it
        ("يا قوم", AyahRef(2, 54)),
        ("موسی", AyahRef(2, 51)),  # typed with a Persian yeh
        ("الرحمن", AyahRef(1, 1)),  # a dagger alef modern spelling leaves out
    ],
)
def test_modern_and_plain_spellings_find_uthmani_words(query: str, ref: AyahRef) -> None:
    assert ref in refs(query)
    assert min(refs(query)) == ref  # and nothing before the first real occurrence


def test_conjunctions_prepositions_article_and_endings() -> None:
    def words(surah: int, ayah: int) -> list[str]:
        return simply_stripped(load_text().ayah(surah, ayah)).split()

    assert "لله" in words(1, 2) and "والله" in words(2, 19) and "الله" not in words(1, 2) + words(2, 19)
    assert {AyahRef(1, 2), AyahRef(2, 19)} <= set(refs("الله"))
    assert "للناس" in words(3, 96) and "الناس" not in words(3, 96)
    assert AyahRef(3, 96) in refs("الناس")
    assert "كتبه" in words(69, 19)  # كِتَـٰبَهُۥ: his book
    assert AyahRef(69, 19) in refs("كتاب")  # an ending, and no article typed
    assert AyahRef(69, 19) not in refs("الكتاب")  # an article typed must be there
    assert "الكتب" in words(2, 2)
    assert AyahRef(2, 2) in refs("كتاب")


def test_letters_of_a_word_are_not_taken_for_a_prefix() -> None:
    """كِتَابٌ (13:38) is not ka + تاب; the preposition ka takes fatha, this kaf kasra."""
    assert "كِتَابٌ" in load_text().ayah(13, 38)
    assert "تَابَ" in load_text().ayah(2, 37)
    found = refs("تاب")
    assert AyahRef(2, 37) in found and AyahRef(13, 38) not in found


def test_every_ayah_is_found_by_its_opening_words_typed_plainly() -> None:
    metadata, text = load_metadata(), load_text()
    basmala = simply_stripped(text.ayah(1, 1)).split()
    missing = []
    for index in range(0, metadata.total_ayahs, 3):
        ref = metadata.ayah_at(index)
        words = simply_stripped(text.lines[index]).split()
        if ref.ayah == 1 and ref.surah != 1 and words[:4] == basmala and len(words) > 4:
            words = words[4:]
        if ref not in refs(" ".join(words[:6])):
            missing.append(ref)
    assert missing == []


def test_every_ayah_is_found_by_its_opening_translation_words() -> None:
    metadata, translation = load_metadata(), load_text(TRANSLATION_FILE)
    missing = []
    for index in range(1, metadata.total_ayahs, 3):
        ref = metadata.ayah_at(index)
        if ref not in refs(" ".join(translation.lines[index].split()[:6])):
            missing.append(ref)
    assert missing == []


def test_a_query_with_arabic_letters_searches_the_arabic() -> None:
    hits = search_ayahs("throne قل هو الله احد")
    assert hits[0] == SearchHit(AyahRef(112, 1), "arabic")


# --- filtering, ranking, limits, errors -------------------------------------------------------


def test_surah_filter() -> None:
    assert sorted(refs("الله", surah=112)) == [AyahRef(112, 1), AyahRef(112, 2)]
    assert refs("lord", surah=114) == [AyahRef(114, 1)]
    assert refs("throne", surah=112) == []
    assert set(refs("الرحمن", surah=55)) == {AyahRef(55, 1)}


def _english_phrase(line: str, query: str) -> bool:
    """The documented rule, reimplemented plainly: consecutive words, each equal to its query word,
    or (4+ letters) beginning with it, or (3 letters) it plus s."""
    words, wanted = re.findall("[a-z]+", line.lower()), query.lower().split()

    def fits(word: str, q: str) -> bool:
        return word == q or (len(q) >= 4 and word.startswith(q)) or (len(q) == 3 and word == q + "s")

    return any(
        all(fits(words[start + n], q) for n, q in enumerate(wanted))
        for start in range(len(words) - len(wanted) + 1)
    )


def test_phrase_hits_rank_before_scattered_words() -> None:
    translation = load_text(TRANSLATION_FILE)
    for query in ("guidance and mercy", "fear Allah"):
        phrases = [_english_phrase(translation[ref], query) for ref in refs(query)]
        assert True in phrases and False in phrases
        assert phrases == sorted(phrases, reverse=True)
    arabic = refs("الحي القيوم")
    assert set(arabic[:3]) == {AYAT_AL_KURSI, FIRST_OF_AL_IMRAN, AyahRef(20, 111)}


def test_shorter_ayahs_that_are_mostly_the_query_come_first() -> None:
    hits = refs("الله")
    assert hits[0] == AyahRef(112, 2)  # ٱللَّهُ ٱلصَّمَدُ: half of its words
    assert hits.index(AyahRef(112, 2)) < hits.index(AyahRef(2, 255))


def test_limit() -> None:
    assert len(search_ayahs("الله")) == 50
    assert len(search_ayahs("الله", limit=5)) == 5
    assert search_ayahs("الله", limit=5) == search_ayahs("الله", limit=50)[:5]
    assert search_ayahs("الله", limit=0) == []
    assert len(search_ayahs("قل هو الله احد", limit=1000)) < 10


@pytest.mark.parametrize(
    "query", ["", "   ", "?!.,;:", "\u064e\u0650\u0651\u0652", "\u0640\u064e\u0640\u0650", "۞ ۩ ۚ"]
)
def test_a_query_without_a_word_is_refused_clearly(query: str) -> None:
    with pytest.raises(ValueError, match="Nothing to search for") as error:
        search_ayahs(query)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("surah", [0, -1, 115])
def test_a_surah_outside_the_quran_is_refused_clearly(surah: int) -> None:
    with pytest.raises(ValueError, match=f"Surah number must be 1–114, got {surah}"):
        search_ayahs("الله", surah=surah)


def test_no_hits_is_an_empty_list_not_an_error() -> None:
    assert search_ayahs("xylophone") == []
    assert search_ayahs("مشكاتنا") == []


# --- the text shown is the file's -----------------------------------------------------------------


@pytest.mark.parametrize("query", ["قل هو الله احد", "الصلاة", "يا أيها الذين آمنوا", "throne", "mercy"])
def test_the_text_shown_for_a_hit_is_the_file_line_byte_for_byte(
    query: str, arabic_raw: dict[AyahRef, bytes], translation_raw: dict[AyahRef, bytes]
) -> None:
    hits = search_ayahs(query)
    assert hits
    for hit in hits:
        assert load_text()[hit.ref].encode("utf-8") == arabic_raw[hit.ref]
        assert load_text(TRANSLATION_FILE)[hit.ref].encode("utf-8") == translation_raw[hit.ref]


def test_indexing_leaves_the_loaded_text_untouched(arabic_raw: dict[AyahRef, bytes]) -> None:
    text = load_text()
    before = text.lines
    load_index()
    search_ayahs("الصلاة")
    assert load_text() is text and text.lines is before
    assert [line.encode("utf-8") for line in text.lines] == list(arabic_raw.values())
    assert "\u0671" in text.ayah(1, 1) and "\u0670" in text.ayah(1, 1)  # wasla and dagger alef kept


# --- the normaliser -------------------------------------------------------------------------------


def test_normalise_arabic_strips_marks_and_unifies_letters() -> None:
    assert normalise_arabic(load_text().ayah(1, 1)) == " ".join(["بسم الله", "الرحمن الرحيم"])
    assert normalise_arabic(load_text().ayah(1, 1)) == simply_stripped(load_text().ayah(1, 1))
    assert normalise_arabic("أ إ آ ٱ") == "ا ا ا ا"
    assert normalise_arabic("ى ة ؤ ئ") == "ي ه و ي"
    assert normalise_arabic("شيء سماء") == "شي سما"  # bare hamza dropped
    assert normalise_arabic("الـــرحمن") == "الرحمن"  # tatweel
    assert normalise_arabic("ﷲ") == "الله"  # a presentation form, via NFKC
    assert normalise_arabic("Allah, 2:255") == "Allah, 2:255"


def test_uthmani_words_get_their_modern_spellings() -> None:
    word = load_text().ayah(1, 2).split()[-1]  # ٱلْعَـٰلَمِينَ, the worlds
    assert {"العالمين", "العلمين"} <= arabic_spellings(word)
    assert normalise_arabic(word) in arabic_spellings(word)
    # لَّهُۥ: the pronoun's small waw is a long vowel modern spelling never writes.
    pronoun = next(w for w in load_text().ayah(2, 255).split() if simply_stripped(w) == "له")
    assert pronoun.endswith("\u06e5")
    assert arabic_spellings(pronoun) == {"له"}
