"""Curated bank files: a good one loads; a broken one yields every problem at its line; the shipped bank
is clean and each of its answers is in the ayah it cites.

Quran text in these banks is read from the data files here, never typed: a test must not become a
second, unchecked copy of the Quran.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import tomllib
from importlib.resources import as_file, files
from pathlib import Path

import pytest

from quranbot.quiz.bank import BankLoader, shipped_sources
from quranbot.quiz.bank_file import Problem, choice_key, parse_bank
from quranbot.quiz.generate import generated_questions
from quranbot.quiz.validate import validate_bank

DATA = files("quranbot.data")
ROOT = Path(__file__).resolve().parent.parent


def pickthall(surah: int, ayah: int) -> str:
    """One ayah of Pickthall's translation, read straight from the shipped file."""
    prefix = f"{surah}|{ayah}|"
    for line in DATA.joinpath("en.pickthall.txt").read_text(encoding="utf-8").split("\n"):
        if line.startswith(prefix):
            return line[len(prefix) :]
    raise AssertionError(f"no {surah}:{ayah}")


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def line_of(text: str, marker: str) -> int:
    """The 1-based line holding `marker`, which must be on exactly one line."""
    hits = [n for n, line in enumerate(text.split("\n"), start=1) if marker in line]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def good_bank() -> str:
    quote = pickthall(112, 1)
    return f"""\
[bank]
name = "Test bank"
description = "Two good questions."

[[questions]]
id = "test-ikhlas"
category = "quran"
difficulty = "beginner"
question = "In Pickthall's translation of 112:1, what is Allah called?"
choices = ["the Judge", "the One", "the King", "the Creator"]
answer = "B"
explanation = \"\"\"Pickthall translates 112:1 as quoted.
[[questions]] inside a string is not a question.\"\"\"
tags = ["short"]
references = [{{ quran = "112:1", quote = {toml_string(quote)} }}]

[[questions]]
id = "test-latin-letters"
category = "history"
difficulty = "advanced"
question = "Which letter follows A in the Latin alphabet?"
question_ar = "ما الحرف الذي يلي A في الأبجدية اللاتينية؟"
choices = ["C", "B", "D", "E"]
answer = "B"
explanation = "The Latin alphabet runs A, B, C."
explanation_ar = "A ثم B ثم C."

[[questions.references]]
source = "The Latin alphabet"
url = "https://en.wikipedia.org/wiki/Latin_alphabet"
"""


def write(tmp_path: Path, text: str, name: str = "bank.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_bank_loads(tmp_path: Path) -> None:
    path = write(tmp_path, good_bank())
    assert validate_bank(path, generated_questions()) == []
    parsed = parse_bank(path)
    assert parsed.name == "Test bank" and parsed.description == "Two good questions."
    first, second = parsed.questions
    assert first.id == "test-ikhlas" and first.correct == "the One" and first.tags == ("short",)
    assert first.source == "bank.toml" and first.explanation.endswith("is not a question.")
    [ref] = first.references
    assert (ref.surah, ref.first_ayah, ref.last_ayah, ref.quote) == (112, 1, 1, pickthall(112, 1))
    assert second.category == "history" and second.difficulty == "advanced" and second.question_ar
    assert second.references[0].citation == "The Latin alphabet" and not second.references[0].is_quran


def test_toml_syntax_error_names_its_line(tmp_path: Path) -> None:
    text = good_bank().replace(
        'answer = "B"\nexplanation = "The Latin', 'answer = B\nexplanation = "The Latin'
    )
    path = write(tmp_path, text)
    [problem] = validate_bank(path)
    assert problem.line == line_of(text, "answer = B") and "TOML syntax" in problem.message
    assert str(problem).startswith(f"{path}:{problem.line}: ")


def test_a_broken_bank_yields_every_problem_at_its_line(tmp_path: Path) -> None:
    quote = pickthall(112, 1)
    one_off = quote.replace("One", "Ones")
    text = f"""\
version = 2
[bank]
name = "Broken"

[[questions]]
id = "good-one"
category = "quran"
difficulty = "beginner"
question = "In Pickthall's translation of 112:1, what is Allah called?"
choices = ["the Judge", "the One", "the King", "the Creator"]
answer = "B"
explanation = \"\"\"Fine.
[[questions]]
still the explanation\"\"\"
references = [{{ quran = "112:1", quote = {toml_string(quote)} }}]

[[questions]]
id = "unknown-key"
category = "quran"
difficulty = "beginner"
question = "Question with an unknown key?"
hint = "not a key"
choices = ["a", "b", "c", "d"]
answer = "A"
explanation = "x"
references = [{{ quran = "1:1" }}]

[[questions]]
id = "three-choices"
category = "fiqh"
difficulty = "beginner"
question = "Question with three choices?"
choices = ["a", "b", "c"]
answer = "A"
explanation = "x"
references = [{{ source = "somewhere" }}]

[[questions]]
id = "same-choices"
category = "quran"
difficulty = "expert"
question = "Question with two equal choices?"
choices = ["Yes", "no", "yes ", "maybe"]
answer = "A"
explanation = "x"
references = [{{ source = "somewhere" }}]

[[questions]]
id = "answer-e"
category = "quran"
difficulty = "beginner"
question = "Question whose answer is E?"
choices = ["a", "b", "c", "d"]
answer = "E"
explanation = "x"
references = [{{ source = "somewhere", url = "ftp://example.org/x" }}]

[[questions]]
id = "ayah-300"
category = "quran"
difficulty = "beginner"
question = "Question citing a missing ayah?"
choices = ["a", "b", "c", "d"]
answer = "A"
explanation = "x"
references = [
  {{ quran = "1:1" }},
  {{ quran = "1:300" }},   # Al-Faatiha has no ayah 300
  {{ quran = "115:1" }},
  {{ quran = "2:5-3" }},
]

[[questions]]
id = "quote-one-off"
category = "quran"
difficulty = "beginner"
question = "Question whose quote is one character off?"
choices = ["a", "b", "c", "d"]
answer = "A"
explanation = "x"
references = [{{ quran = "112:1", quote = {toml_string(one_off)} }}]

[[questions]]
id = "good-one"
category = "quran"
difficulty = "beginner"
question = "Question reusing an id?"
choices = ["a", "b", "c", "d"]
answer = "A"
explanation = "x"
references = [{{ source = "somewhere" }}]

[[questions]]
id = "near-duplicate"
category = "quran"
difficulty = "beginner"
question = "In Pickthall's translation of 112:1 -- what is Allah called??"
choices = ["a", "b", "c", "d"]
answer = "A"
explanation = "x"
references = [{{ source = "somewhere" }}]

[[questions]]
id = "no-references"
category = "quran"
difficulty = "beginner"
question = "Question without references?"
choices = ["a", "b", "c", "d"]
answer = "A"
explanation = "x"
"""
    path = write(tmp_path, text)
    problems = validate_bank(path)
    expected = [
        (line_of(text, "version = 2"), "unknown top-level key 'version'"),
        (line_of(text, 'hint = "not a key"'), "unknown key 'hint'"),
        (line_of(text, 'choices = ["a", "b", "c"]'), "choices has 3 items; exactly 4 are needed"),
        (line_of(text, 'difficulty = "expert"'), "difficulty 'expert' is not one of"),
        (line_of(text, '"Yes", "no", "yes "'), "choices 1 and 3 are the same"),
        (line_of(text, 'answer = "E"'), "answer 'E' must be the correct choice's letter"),
        (line_of(text, "ftp://"), "is not an http(s) address"),
        (
            line_of(text, '"1:300"'),
            "reference 2: 1:300: surah 1 (Al-Faatiha) has 7 ayahs; there is no ayah 300",
        ),
        (line_of(text, '"115:1"'), "reference 3: 115:1: there is no surah 115"),
        (line_of(text, '"2:5-3"'), "reference 4: 2:5-3: the range ends before it starts"),
        (
            line_of(text, toml_string(one_off)),
            "quote differs from Pickthall's translation of 112:1 at character",
        ),
        (line_of(text, 'question = "Question reusing an id?"') - 3, "id is used already at line 6"),
        (line_of(text, "-- what is Allah called??"), "a near-duplicate of 'good-one' (line 9, 100% alike)"),
        (line_of(text, 'id = "no-references"') - 1, "missing 'references'"),
    ]
    assert [(p.line, p.file) for p in problems] == [(line, str(path)) for line, _ in expected], problems
    for problem, (_, fragment) in zip(problems, expected, strict=True):
        assert fragment in problem.message, (problem, fragment)
    # The one-character difference is pinned down for the admin.
    [quote_problem] = [p for p in problems if "quote differs" in p.message]
    position = next(i for i, (a, b) in enumerate(zip(quote, one_off, strict=False)) if a != b) + 1
    assert f"at character {position}:" in quote_problem.message


def test_duplicates_against_the_bank_it_joins(tmp_path: Path) -> None:
    """Checked against generated and shipped questions: the same id, the same question, a near copy."""
    shipped = [q for s in shipped_sources() if s.kind == "shipped" for q in s.questions]
    generated = generated_questions()
    copied = shipped[0]
    text = f"""\
[bank]
name = "Copies"

[[questions]]
id = {toml_string(copied.id)}
category = "quran"
difficulty = "beginner"
question = "A new question with a taken id?"
choices = ["a", "b", "c", "d"]
answer = "A"
explanation = "x"
references = [{{ source = "somewhere" }}]

[[questions]]
id = "copy-of-generated"
category = "quran"
difficulty = "beginner"
question = {toml_string(generated[0].question.upper())}
choices = ["a", "b", "c", "d"]
answer = "A"
explanation = "x"
references = [{{ source = "somewhere" }}]

[[questions]]
id = "copy-of-shipped"
category = "quran"
difficulty = "beginner"
question = {toml_string(copied.question + " ")}
choices = ["a", "b", "c", "d"]
answer = "A"
explanation = "x"
references = [{{ source = "somewhere" }}]
"""
    path = write(tmp_path, text)
    problems = validate_bank(path, [*generated, *shipped])
    assert [p.line for p in problems] == [
        line_of(text, f"id = {toml_string(copied.id)}"),
        line_of(text, generated[0].question.upper()),
        line_of(text, toml_string(copied.question + " ")),
    ]
    assert f"id is in the bank already ({copied.source})" in problems[0].message
    assert f"the same question as generated {generated[0].id!r}" in problems[1].message
    assert f"a near-duplicate of {copied.id!r} ({copied.source}, 100% alike)" in problems[2].message


def test_near_duplicates_need_the_same_numbers(tmp_path: Path) -> None:
    """ "...surah 18?" and "...surah 19?" are two questions, however alike the words; a copy is not."""
    questions = ["Which surah is number 18?", "Which surah is number 19?", "Which surah is number 18 ?!"]
    text = '[bank]\nname = "Numbers"\n' + "".join(
        f"""
[[questions]]
id = "n{n}"
category = "quran"
difficulty = "beginner"
question = {toml_string(question)}
choices = ["a", "b", "c", "d"]
answer = "A"
explanation = "x"
references = [{{ source = "somewhere" }}]
"""
        for n, question in enumerate(questions)
    )
    [problem] = validate_bank(write(tmp_path, text))
    first = line_of(text, "number 18?")
    assert problem.line == line_of(text, "number 18 ?!")
    assert f"a near-duplicate of 'n0' (line {first}, 100% alike)" in problem.message


def test_choices_compare_without_case_and_spaces() -> None:
    assert choice_key("The  Cave ") == choice_key("the cave") == choice_key("THECAVE")
    assert choice_key("The Cave") != choice_key("The Caves")


# --- the shipped bank -------------------------------------------------------------------------------


def shipped_file() -> Path:
    with as_file(DATA.joinpath("quiz", "quran-verses.toml")) as path:
        return Path(path)


def test_the_shipped_bank_validates_clean() -> None:
    path = shipped_file()
    assert validate_bank(path, generated_questions()) == []
    questions = parse_bank(path).questions
    assert 25 <= len(questions) <= 40
    assert {q.category for q in questions} == {"quran"}
    assert {q.difficulty for q in questions} == {"beginner", "intermediate", "advanced"}
    assert not {q.id for q in questions} & {q.id for q in generated_questions()}
    assert {s.kind for s in shipped_sources()} == {"generated", "shipped"}  # it loads at runtime too


def test_each_shipped_answer_is_in_the_ayah_it_cites() -> None:
    """The reader checks the answer in the ayah: the correct choice is words of its translation, and no
    wrong choice is."""
    for q in parse_bank(shipped_file()).questions:
        quran = [r for r in q.references if r.is_quran]
        assert quran and all(r.quote for r in quran), q.id
        text = " ".join(
            pickthall(r.surah, a)
            for r in quran
            if r.surah is not None and r.first_ayah is not None and r.last_ayah is not None
            for a in range(r.first_ayah, r.last_ayah + 1)
        ).casefold()
        assert q.correct.casefold() in text, q.id
        for wrong in (c for i, c in enumerate(q.choices) if i != q.answer):
            assert not re.search(rf"\b{re.escape(wrong.casefold())}(?!\w)", text), (q.id, wrong)


def test_the_bank_files_are_in_the_installed_package() -> None:
    """Read through importlib.resources (what the installed package ships), and covered by pyproject's
    package-data, so a wheel carries them too."""
    assert DATA.joinpath("quiz", "quran-verses.toml").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["quranbot.data"]
    shipped = sorted(p.relative_to(ROOT / "data").as_posix() for p in (ROOT / "data" / "quiz").iterdir())
    assert shipped
    for name in shipped:  # setuptools globs: `*` does not cross a `/`
        assert any(p.count("/") == name.count("/") and fnmatch.fnmatch(name, p) for p in patterns), name
    assert "quranbot.quiz" in config["packages"]


# --- a broken file in the banks directory at runtime ------------------------------------------------

OTHER_BANK = """\
[bank]
name = "Other"

[[questions]]
id = "other-vowel"
category = "history"
difficulty = "beginner"
question = "Which of these letters is a vowel?"
choices = ["K", "E", "T", "S"]
answer = "B"
explanation = "E is a vowel; K, T and S are consonants."
references = [{ source = "The Latin alphabet" }]
"""


def test_a_broken_imported_file_is_logged_once_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    banks = tmp_path / "quiz-banks"
    banks.mkdir()
    write(banks, good_bank(), "test-bank.toml")
    broken = write(banks, OTHER_BANK.replace('answer = "B"', 'answer = "Z"'), "other.toml")
    loader = BankLoader(banks)
    with caplog.at_level(logging.ERROR, logger="quranbot.quiz.bank"):
        bank = loader.bank()
        assert loader.bank() is bank  # nothing changed: the cached bank
    assert bank.get("test-ikhlas") is not None and bank.get("other-vowel") is None
    [record] = caplog.records
    assert str(broken) in record.getMessage() and "answer 'Z'" in record.getMessage()
    assert [s.file for s in bank.sources if s.kind == "imported"] == ["test-bank.toml"]

    caplog.clear()
    os.utime(
        banks / "test-bank.toml", ns=(1, 1)
    )  # another file changes: reload, the broken one not re-logged
    again = loader.bank()
    assert again is not bank and again.get("test-ikhlas") is not None and not caplog.records
    broken.write_text(broken.read_text().replace('answer = "Z"', 'answer = "B"'))  # fixed: it loads
    fixed = loader.bank()
    assert fixed.get("other-vowel") is not None
    assert fixed.categories() == {"quran": len(fixed) - 2, "history": 2}
    broken.unlink()
    assert loader.bank().get("other-vowel") is None


def test_problem_prints_as_file_line_message() -> None:
    assert str(Problem("bank.toml", 12, "answer 'E' must be ...")) == "bank.toml:12: answer 'E' must be ..."
