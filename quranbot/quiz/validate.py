"""Whether a curated bank may join the quiz: its shape (bank_file.py), then its content.

Content checks: every Quran reference is a real range in Tanzil's metadata; every quote is byte-identical
to a contiguous part of Tanzil's Arabic or Pickthall's translation of its range; ids are unique in the
file and in the bank it joins; no question repeats another. A bank with any problem is imported whole
or not at all, so every problem is listed at once, each with its line.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from quranbot.quiz.bank_file import (
    BankEntry,
    BankReference,
    ParsedBank,
    Problem,
    parse_bank,
    parse_bank_bytes,
)
from quranbot.quiz.question import Question
from quranbot.quran.metadata import load_metadata
from quranbot.quran.text import TRANSLATION_FILE, load_text

__all__ = [
    "NEAR_DUPLICATE_RATIO",
    "check_bank",
    "check_bank_bytes",
    "check_parsed",
    "normalise_question",
    "validate_bank",
]

#: Two questions whose normalised texts are at least this alike (difflib ratio) and that name the same
#: numbers are one question asked twice. ("...surah 18?" and "...surah 19?" are two questions.)
NEAR_DUPLICATE_RATIO = 0.9

_NOT_WORD = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"\d+")


def normalise_question(text: str) -> str:
    """Case, accents' forms, punctuation and spacing do not make a question new."""
    return " ".join(_NOT_WORD.split(unicodedata.normalize("NFKC", text).casefold())).strip()


@dataclass(frozen=True)
class _Known:
    """A question to compare against: its id, where it is (a line in this file, or a source)."""

    id: str
    text: str
    numbers: tuple[str, ...]
    where: str


def _known(question_id: str, text: str, where: str) -> _Known:
    normalised = normalise_question(text)
    return _Known(question_id, normalised, tuple(_NUMBER.findall(normalised)), where)


def _alike(a: _Known, b: _Known) -> float:
    """The difflib ratio of two texts that name the same numbers, else 0."""
    if a.numbers != b.numbers:
        return 0.0
    matcher = difflib.SequenceMatcher(None, a.text, b.text, autojunk=False)
    if matcher.real_quick_ratio() < NEAR_DUPLICATE_RATIO or matcher.quick_ratio() < NEAR_DUPLICATE_RATIO:
        return 0.0
    return matcher.ratio()


def _quote_problem(ref: BankReference, quote: str) -> str | None:
    """None if the quote is in the range's Arabic or translation (ayahs joined by one space), else why not,
    naming where it first differs from the closest text."""
    assert ref.reference.surah is not None and ref.reference.first_ayah is not None
    surah, first = ref.reference.surah, ref.reference.first_ayah
    last = ref.reference.last_ayah or first
    texts = {
        "Tanzil's Arabic": " ".join(load_text().ayah(surah, a) for a in range(first, last + 1)),
        "Pickthall's translation": " ".join(
            load_text(TRANSLATION_FILE).ayah(surah, a) for a in range(first, last + 1)
        ),
    }
    if any(quote in text for text in texts.values()):
        return None
    best_name, best_length, best_text = "", 0, ""
    for name, text in texts.items():
        low, high = 0, len(quote)  # the longest prefix of the quote found in the text
        while low < high:
            middle = (low + high + 1) // 2
            if quote[:middle] in text:
                low = middle
            else:
                high = middle - 1
        if low > best_length or not best_name:
            best_name, best_length, best_text = name, low, text
    if best_length == 0:
        return f"quote is not in Tanzil's Arabic or Pickthall's translation of {ref.quran}"
    at = best_text.find(quote[:best_length]) + best_length
    return (
        f"quote differs from {best_name} of {ref.quran} at character {best_length + 1}: "
        f"the quote has {quote[best_length : best_length + 12]!r}, the text has {best_text[at : at + 12]!r}"
    )


def _reference_problems(entry: BankEntry, file: str) -> Iterable[Problem]:
    meta = load_metadata()
    for k, ref in enumerate(entry.references, start=1):
        reference = ref.reference
        if reference.surah is None:
            continue
        where = f"{entry.label}, reference {k}"
        first, last = reference.first_ayah or 0, reference.last_ayah or 0
        if not 1 <= reference.surah <= len(meta.surahs):
            yield Problem(
                file, ref.line, f"{where}: {ref.quran}: there is no surah {reference.surah} (1–114)"
            )
            continue
        surah = meta.surah(reference.surah)
        if not 1 <= first <= surah.ayah_count or not 1 <= last <= surah.ayah_count:
            bad = first if not 1 <= first <= surah.ayah_count else last
            yield Problem(
                file,
                ref.line,
                f"{where}: {ref.quran}: surah {surah.number} ({surah.name}) has {surah.ayah_count} ayahs; "
                f"there is no ayah {bad}",
            )
            continue
        if last < first:
            yield Problem(file, ref.line, f"{where}: {ref.quran}: the range ends before it starts")
            continue
        if reference.quote is not None and (why := _quote_problem(ref, reference.quote)):
            yield Problem(file, ref.line, f"{where}: {why}")


def _duplicate_problems(parsed: ParsedBank, existing: Iterable[Question]) -> Iterable[Problem]:
    file = parsed.file
    known_ids: dict[str, str] = {}
    curated: list[_Known] = []
    generated: dict[str, str] = {}
    for question in existing:
        known_ids.setdefault(question.id, question.source)
        if question.source == "generated":
            generated.setdefault(normalise_question(question.question), question.id)
        else:
            curated.append(_known(question.id, question.question, question.source))
    first_line: dict[str, int] = {}
    earlier: list[_Known] = []
    for entry in parsed.entries:
        if entry.id is not None:
            if entry.id in first_line:
                yield Problem(
                    file,
                    entry.line_of("id"),
                    f"{entry.label}: id is used already at line {first_line[entry.id]}",
                )
            elif entry.id in known_ids:
                yield Problem(
                    file,
                    entry.line_of("id"),
                    f"{entry.label}: id is in the bank already ({known_ids[entry.id]})",
                )
            first_line.setdefault(entry.id, entry.line_of("id"))
        if entry.text is None:
            continue
        this = _known(entry.id or f"question {entry.number}", entry.text, f"line {entry.line_of('question')}")
        line = entry.line_of("question")
        if (same := generated.get(this.text)) is not None:
            yield Problem(file, line, f"{entry.label}: the same question as generated {same!r}")
        for other in (*earlier, *curated):
            ratio = _alike(this, other)
            if ratio >= NEAR_DUPLICATE_RATIO:
                yield Problem(
                    file,
                    line,
                    f"{entry.label}: a near-duplicate of {other.id!r} ({other.where}, {ratio:.0%} alike)",
                )
                break
        earlier.append(this)


def check_parsed(parsed: ParsedBank, existing: Iterable[Question] = ()) -> list[Problem]:
    """Every problem of an already parsed bank (its own and the content's), in line order."""
    problems = list(parsed.problems)
    for entry in parsed.entries:
        problems.extend(_reference_problems(entry, parsed.file))
    problems.extend(_duplicate_problems(parsed, existing))
    return sorted(problems, key=lambda p: p.line)


def check_bank(path: Path, existing: Iterable[Question] = ()) -> tuple[ParsedBank, list[Problem]]:
    """Parse and check a bank file (OSError if unreadable): the bank, and every problem in line order."""
    parsed = parse_bank(path)
    return parsed, check_parsed(parsed, existing)


def check_bank_bytes(
    raw: bytes, file: str, existing: Iterable[Question] = (), source: str | None = None
) -> tuple[ParsedBank, list[Problem]]:
    """`check_bank` for bytes read elsewhere (the package's own banks, a file read once)."""
    parsed = parse_bank_bytes(raw, file, source)
    return parsed, check_parsed(parsed, existing)


def validate_bank(path: Path, existing: Iterable[Question] = ()) -> list[Problem]:
    """Every problem in a bank file, checked against the questions it would join; empty if it is good."""
    return check_bank(path, existing)[1]
