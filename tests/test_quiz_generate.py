"""Every generated question is right: its answer recomputed here, independently, from the data files.

The expected facts come from parsing quran-data.xml with ElementTree and the two text files line by line
in this test, never from quranbot.quran (the code under test reads the data through it), and never typed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import pytest

from quranbot.i18n.catalog import Catalogs, Language, said
from quranbot.i18n.catalog import english as english_messages
from quranbot.quiz.generate import BASE_DIFFICULTY, generated_questions
from quranbot.quiz.question import DIFFICULTIES, LETTERS, Question

DATA = files("quranbot.data")
ROOT = Path(__file__).resolve().parent.parent
LABEL = re.compile(r"(\d+)\. (.+)")
COMPARISONS = {"medinan", "meccan", "most-ayahs", "fewest-ayahs", "revealed-first"}
ARABIC_LETTER = re.compile("[\u0621-\u064a]")
LATIN_LETTER = re.compile("[A-Za-z]")
DIGITS = re.compile("[0-9]+")


@dataclass(frozen=True)
class Facts:
    suras: dict[int, dict[str, str]]
    juz_starts: list[tuple[int, int]]
    sajdas: set[tuple[int, int]]
    #: (surah, ayah) -> the text after `surah|ayah|`, as bytes exactly as in the file.
    arabic: dict[tuple[int, int], bytes]
    english: dict[tuple[int, int], bytes]

    def ayas(self, n: int) -> int:
        return int(self.suras[n]["ayas"])

    def start(self, n: int) -> int:
        return int(self.suras[n]["start"])

    def juz_of_surah(self, n: int) -> int:
        index = self.start(n)
        return sum(1 for s, a in self.juz_starts if self.start(s) + a - 1 <= index)


def _lines(name: str) -> dict[tuple[int, int], bytes]:
    found: dict[tuple[int, int], bytes] = {}
    for line in DATA.joinpath(name).read_bytes().split(b"\n"):
        if line and not line.startswith(b"#"):
            surah, ayah, text = line.split(b"|", 2)
            found[int(surah), int(ayah)] = text
    return found


@pytest.fixture(scope="module")
def facts() -> Facts:
    root = ET.fromstring(DATA.joinpath("quran-data.xml").read_bytes())
    return Facts(
        suras={int(e.attrib["index"]): dict(e.attrib) for e in root.iter("sura")},
        juz_starts=[(int(e.attrib["sura"]), int(e.attrib["aya"])) for e in root.iter("juz")],
        sajdas={(int(e.attrib["sura"]), int(e.attrib["aya"])) for e in root.iter("sajda")},
        arabic=_lines("quran-uthmani.txt"),
        english=_lines("en.pickthall.txt"),
    )


@pytest.fixture(scope="module")
def questions() -> tuple[Question, ...]:
    return generated_questions()


def surah_of(choice: str, facts: Facts) -> int:
    """`18. Al-Kahf` -> 18, after checking that the name shown is that surah's."""
    match = LABEL.fullmatch(choice)
    assert match, choice
    number = int(match.group(1))
    assert facts.suras[number]["tname"] == match.group(2), choice
    return number


def number_after(prefix: str, choice: str) -> int:
    assert choice.startswith(prefix) and choice[len(prefix) :].isdigit(), choice
    return int(choice[len(prefix) :])


def template_and_params(q: Question) -> tuple[str, list[int]]:
    prefix, template, *params = q.id.split(":")
    assert prefix == "gen" and all(p.isdigit() for p in params), q.id
    return template, [int(p) for p in params]


def check_answer(q: Question, facts: Facts) -> None:
    """Recompute the correct choice, and check that no other choice is also correct."""
    template, params = template_and_params(q)
    correct, others = q.correct, [c for i, c in enumerate(q.choices) if i != q.answer]
    n = params[0]
    sura = facts.suras[n]
    tnames = [s["tname"] for s in facts.suras.values()]
    if template == "name-of":
        assert f"surah {n}?" in q.question
        assert correct == sura["tname"]
        assert all(c in tnames and c != sura["tname"] for c in others)
    elif template == "number-of":
        assert sura["tname"] in q.question and tnames.count(sura["tname"]) == 1
        assert correct == str(n)
        assert all(c.isdigit() and int(c) in facts.suras and int(c) != n for c in others)
    elif template == "english-name":
        assert sura["tname"] in q.question
        assert correct == sura["ename"] and sura["ename"] not in others
    elif template == "arabic-name":
        assert q.quote == sura["name"] and surah_of(correct, facts) == n
        assert all(facts.suras[surah_of(c, facts)]["name"] != q.quote for c in others)
    elif template == "ayah-count":
        assert sura["tname"] in q.question and f"({n})" in q.question
        assert correct == sura["ayas"]
        assert all(c.isdigit() and 0 < int(c) != facts.ayas(n) for c in others)
    elif template == "juz":
        juz = facts.juz_of_surah(n)
        assert number_after("Juz ", correct) == juz
        assert all(1 <= number_after("Juz ", c) <= len(facts.juz_starts) for c in others)
        assert all(number_after("Juz ", c) != juz for c in others)
    elif template in ("medinan", "meccan"):
        kind = template.capitalize()
        assert kind in q.question and surah_of(correct, facts) == n and sura["type"] == kind
        assert all(facts.suras[surah_of(c, facts)]["type"] != kind for c in others)
    elif template in ("most-ayahs", "fewest-ayahs"):
        assert ("most" if template == "most-ayahs" else "fewest") in q.question
        assert surah_of(correct, facts) == n
        counts = [facts.ayas(surah_of(c, facts)) for c in others]
        assert all(facts.ayas(n) > c if template == "most-ayahs" else facts.ayas(n) < c for c in counts)
    elif template == "revealed-first":
        assert surah_of(correct, facts) == n
        orders = [int(facts.suras[surah_of(c, facts)]["order"]) for c in others]
        assert all(int(sura["order"]) < o for o in orders)
    elif template == "sajda":
        ayah = params[1]
        assert (n, ayah) in facts.sajdas and sura["tname"] in q.question
        assert number_after("Ayah ", correct) == ayah
        for c in others:
            other = number_after("Ayah ", c)
            assert 1 <= other <= facts.ayas(n) and (n, other) not in facts.sajdas
    elif template in ("ayah-from", "translation-from"):
        ayah = params[1]
        lines = facts.arabic if template == "ayah-from" else facts.english
        assert q.quote is not None and ayah != 1
        quote = q.quote.encode()
        assert quote == lines[n, ayah]  # byte-identical to the file
        assert list(lines.values()).count(quote) == 1  # so no other surah has it
        assert surah_of(correct, facts) == n
        assert all(lines.get((surah_of(c, facts), a)) != quote for c in others for a in range(1, 300))
        assert 5 <= sum(1 for w in q.quote.split() if any(ch.isalpha() for ch in w)) <= 60
        assert len(q.quote) < 1500
    else:
        raise AssertionError(f"{q.id}: a template this test does not check")


def test_every_answer_recomputed_from_the_data(questions: tuple[Question, ...], facts: Facts) -> None:
    assert len(questions) > 1000
    for q in questions:
        check_answer(q, facts)


def test_every_template_is_used_and_shape_is_right(questions: tuple[Question, ...]) -> None:
    assert {template_and_params(q)[0] for q in questions} == set(BASE_DIFFICULTY)
    ids = [q.id for q in questions]
    assert len(ids) == len(set(ids))
    for q in questions:
        assert len(q.choices) == len(LETTERS) and 0 <= q.answer < len(LETTERS)
        assert len({c.casefold() for c in q.choices}) == 4, q.id
        assert all(0 < len(c) <= 80 for c in q.choices)
        assert q.category == "quran" and q.source == "generated"
        assert q.explanation and len(q.explanation) <= 1000 and q.question
    # The correct choice is not always in the same place.
    assert set(Counter(q.answer for q in questions)) == {0, 1, 2, 3}


def test_references_can_be_checked_and_are_true(questions: tuple[Question, ...], facts: Facts) -> None:
    sura_citation = re.compile(
        r"Tanzil quran-data\.xml: sura (\d+) \(name=(.+), tname=(.+), ename=(.+), ayas=(\d+), "
        r"type=(\w+), order=(\d+)\)"
    )
    for q in questions:
        quran = [r for r in q.references if r.is_quran]
        assert quran, q.id
        for r in quran:
            assert r.surah in facts.suras and r.first_ayah is not None and r.last_ayah is not None
            assert 1 <= r.first_ayah <= r.last_ayah <= facts.ayas(r.surah)
        for r in q.references:
            if r.citation and (m := sura_citation.fullmatch(r.citation)):
                s = facts.suras[int(m.group(1))]
                assert m.groups()[1:] == (s["name"], s["tname"], s["ename"], s["ayas"], s["type"], s["order"])
            if r.citation and (
                m := re.fullmatch(r"Tanzil quran-data\.xml: sajda \d+ at (\d+):(\d+), .*", r.citation)
            ):
                assert (int(m.group(1)), int(m.group(2))) in facts.sajdas
            assert r.url is None or r.url.startswith("https://")
        # The explanation states the fact the answer rests on.
        core = re.sub(r"^(\d+\. |Ayah |Juz )", "", q.correct)
        assert core.lower() in q.explanation.lower(), q.id


def test_an_arabic_server_reads_the_same_question_the_same_choices_and_answer_in_arabic(
    questions: tuple[Question, ...], facts: Facts
) -> None:
    """Only the wording changes with the language: the English said through the catalog is the
    question's English exactly; the Arabic has the same figures, the same four choices in the same order
    (so the same answer), each surah named by quran-data.xml's Arabic name (parsed here), and no English
    left but what the answer is (an English name, a transliteration) or names (Pickthall)."""
    arabic, english = Catalogs().messages(Language.ARABIC), english_messages()
    by_tname = {s["tname"]: s for s in facts.suras.values()}
    for q in questions:
        template, _ = template_and_params(q)
        wording = q.wording
        assert wording is not None, q.id
        assert wording.question.said_in(english) == q.question and str(wording.question) == q.question
        assert wording.explanation.said_in(english) == q.explanation
        assert tuple(said(c, english) for c in wording.choices) == q.choices

        asked, explained = wording.question.said_in(arabic), wording.explanation.said_in(arabic)
        choices = [said(c, arabic) for c in wording.choices]
        assert ARABIC_LETTER.search(asked) and ARABIC_LETTER.search(explained), q.id
        assert not LATIN_LETTER.search(asked.replace("Pickthall", "")), (q.id, asked)
        if template not in ("english-name", "arabic-name"):  # their answer is English / transliterated
            assert not LATIN_LETTER.search(explained), (q.id, explained)
        assert "{" not in asked + explained
        english_figures = DIGITS.findall(q.question + q.explanation + "".join(q.choices))
        assert sorted(DIGITS.findall(asked + explained + "".join(choices))) == sorted(english_figures), q.id

        assert len(set(choices)) == 4, q.id
        for shown, choice in zip(choices, q.choices, strict=True):
            if template == "arabic-name":  # said in Arabic, the choices would quote the answer
                assert shown == choice
            elif LABEL.fullmatch(choice):
                number = surah_of(choice, facts)
                assert shown == f"{number}. {facts.suras[number]['name']}", q.id
            elif template == "name-of":
                assert shown == by_tname[choice]["name"], q.id
            elif template in ("juz", "sajda"):
                word = "Juz" if template == "juz" else "Ayah"
                figure = number_after(f"{word} ", choice)
                assert shown == arabic.t(f"{word} {{number}}", number=figure) != choice, q.id
            else:  # a number, or Tanzil's English name
                assert shown == choice, q.id


def test_quoted_ayahs_are_the_ayah_referenced(questions: tuple[Question, ...], facts: Facts) -> None:
    for q in questions:
        template, params = template_and_params(q)
        if template in ("ayah-from", "translation-from"):
            [ref] = q.references
            assert (ref.surah, ref.first_ayah, ref.last_ayah) == (params[0], params[1], params[1])


def _difficulty_table() -> dict[str, str]:
    """The base difficulty of each template, as docs/QUIZ.md documents it."""
    text = (ROOT / "docs" / "QUIZ.md").read_text()
    rows = re.findall(
        r"^\| `([a-z-]+)`(?: / `([a-z-]+)`)? \|[^|]*\| (beginner|intermediate|advanced) \|", text, re.M
    )
    table: dict[str, str] = {}
    for first, second, level in rows:
        table[first] = level
        if second:
            table[second] = level
    return table


def test_difficulty_follows_the_documented_rule(questions: tuple[Question, ...], facts: Facts) -> None:
    """docs/QUIZ.md's rule, recomputed: the base, one step harder unless every surah is familiar."""
    documented = _difficulty_table()
    assert documented == BASE_DIFFICULTY
    longest = max(facts.suras, key=facts.ayas)
    juz_30 = facts.start(facts.juz_starts[-1][0]) + facts.juz_starts[-1][1] - 1
    familiar = {1, longest} | {n for n in facts.suras if facts.start(n) >= juz_30}
    for q in questions:
        template, params = template_and_params(q)
        about = [surah_of(c, facts) for c in q.choices] if template in COMPARISONS else [params[0]]
        level = DIFFICULTIES.index(documented[template]) + (0 if set(about) <= familiar else 1)
        assert q.difficulty == DIFFICULTIES[min(level, 2)], q.id


def _digest() -> str:
    document = json.dumps([q.to_json() for q in generated_questions()], ensure_ascii=False)
    return hashlib.sha256(document.encode()).hexdigest()


def test_the_same_set_every_run() -> None:
    """Same ids, choices and order in a fresh build and in other processes with other hash seeds."""
    assert generated_questions.__wrapped__() == generated_questions()
    probe = (
        "import hashlib, json; from quranbot.quiz.generate import generated_questions as g\n"
        "document = json.dumps([q.to_json() for q in g()], ensure_ascii=False)\n"
        "print(hashlib.sha256(document.encode()).hexdigest())"
    )
    for seed in ("0", "4242"):
        result = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        assert result.stdout.strip() == _digest()
