"""The record every quiz question is, whichever bank it came from, and the reference that backs its answer.

A question the bot calls correct must be checkable: each carries at least one `Reference`. A Quran
reference (`2:255`, or a range `2:1-5`) is shown at the reveal with the ayah text from Tanzil; any other
reference is a citation a reader can look up (a book and number, a URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from quranbot.i18n.catalog import Phrase

Category = Literal["quran", "hadith", "fiqh", "history"]
Difficulty = Literal["beginner", "intermediate", "advanced"]

CATEGORIES: tuple[Category, ...] = ("quran", "hadith", "fiqh", "history")
DIFFICULTIES: tuple[Difficulty, ...] = ("beginner", "intermediate", "advanced")
#: The letters the four choices are shown with, and the buttons carry.
LETTERS = ("A", "B", "C", "D")


@dataclass(frozen=True)
class Reference:
    """What backs an answer: a Quran range (surah, first and last ayah), or a citation, or both.

    `quote` is text the question or explanation quotes from the ayah; the validator holds it to be
    byte-identical to a part of Tanzil's Arabic or Pickthall's translation of that range.
    """

    surah: int | None = None
    first_ayah: int | None = None
    last_ayah: int | None = None
    #: A citation a reader can check (e.g. "Tanzil quran-data.xml, sura 18", "Sahih Muslim 2699").
    citation: str | None = None
    url: str | None = None
    quote: str | None = None

    @property
    def is_quran(self) -> bool:
        return self.surah is not None

    def label(self) -> str:
        """`2:255`, `2:1-5`, or the citation."""
        if self.surah is None:
            return self.citation or self.url or ""
        if self.last_ayah is not None and self.last_ayah != self.first_ayah:
            return f"{self.surah}:{self.first_ayah}-{self.last_ayah}"
        return f"{self.surah}:{self.first_ayah}"

    def to_json(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Wording:
    """A generated question's words, to be said in each reader's language: its question, its
    explanation and its four choices as catalog phrases and data names (quranbot/i18n/surah_names.py).
    Only the wording differs by language: `str()` of each part is the English the `Question` holds,
    and the facts, the choices' order and the answer are the same in every language."""

    question: Phrase
    explanation: Phrase
    #: Each a `Sayable` (a surah's name, "Juz 3") or a plain string (a number, an English name).
    choices: tuple[object, object, object, object]


@dataclass(frozen=True)
class Question:
    """One multiple-choice question: four distinct choices, one of them (`answer`, 0–3) correct."""

    id: str
    category: Category
    difficulty: Difficulty
    question: str
    choices: tuple[str, str, str, str]
    answer: int
    explanation: str
    references: tuple[Reference, ...]
    tags: tuple[str, ...] = ()
    question_ar: str | None = None
    explanation_ar: str | None = None
    #: "generated", or the bank file the question was read from.
    source: str = "generated"
    #: Text the question quotes, shown on its own line: an ayah in Tanzil's Arabic or in Pickthall's
    #: translation, or a surah's Arabic name; always copied from the data files, never typed.
    quote: str | None = None
    #: How a generated question reads in each language; None for a bank's (its English, and its
    #: `question_ar` / `explanation_ar` if it has them).
    wording: Wording | None = None

    @property
    def correct(self) -> str:
        return self.choices[self.answer]

    def to_json(self) -> dict[str, object]:
        """The form `quranbot quiz list --json` prints."""
        return {
            "id": self.id,
            "category": self.category,
            "difficulty": self.difficulty,
            "question": self.question,
            **({"quote": self.quote} if self.quote else {}),
            "choices": list(self.choices),
            "answer": LETTERS[self.answer],
            "explanation": self.explanation,
            "references": [r.to_json() for r in self.references],
            "tags": list(self.tags),
            **({"question_ar": self.question_ar} if self.question_ar else {}),
            **({"explanation_ar": self.explanation_ar} if self.explanation_ar else {}),
            "source": self.source,
        }
