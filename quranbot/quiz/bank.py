"""The whole question bank: the generated questions, the curated banks shipped in the package, and every
bank an admin imported into `Paths.quiz_banks_dir` (`quranbot quiz import`).

A running bot holds a `BankLoader`: each `.bank()` call compares the banks directory with what it loaded
(names, sizes, modification times: one scandir) and reloads when a file appeared, changed or went, so an
import is seen without a restart. A file that fails to load is logged once per version and skipped: a
bad file never stops the quiz, and its questions are simply absent.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal

from quranbot.quiz.bank_file import Problem
from quranbot.quiz.generate import generated_questions
from quranbot.quiz.question import CATEGORIES, DIFFICULTIES, Question
from quranbot.quiz.validate import check_bank_bytes

__all__ = [
    "GENERATED_NAME",
    "BankComposition",
    "BankLoader",
    "BankSource",
    "QuestionBank",
    "SourceKind",
    "bank_file_name",
    "load_imported",
    "shipped_sources",
]

log = logging.getLogger(__name__)

SourceKind = Literal["generated", "shipped", "imported"]
GENERATED_NAME = "Generated from Tanzil's data"
_SHIPPED_PACKAGE = "quranbot.data"
_SHIPPED_DIR = "quiz"
#: At most this many of a broken file's problems go to the log (the CLI's `quiz validate` lists all).
_LOGGED_PROBLEMS = 20


@dataclass(frozen=True)
class BankSource:
    """Where a group of questions came from: the generator, a shipped bank file, or an imported one."""

    kind: SourceKind
    name: str
    #: The bank file's name (None for the generated questions).
    file: str | None
    questions: tuple[Question, ...]
    description: str | None = None


class QuestionBank:
    """Every question the quiz can ask, by id, category and difficulty; a reload makes a new one."""

    def __init__(self, sources: Iterable[BankSource]) -> None:
        self.sources = tuple(sources)
        self._questions = tuple(q for source in self.sources for q in source.questions)
        self._by_id = {q.id: q for q in reversed(self._questions)}  # the first source wins a clash

    def questions(self, category: str | None = None, difficulty: str | None = None) -> list[Question]:
        """The questions of a category and difficulty (None: any), in bank order."""
        return [
            q
            for q in self._questions
            if (category is None or q.category == category)
            and (difficulty is None or q.difficulty == difficulty)
        ]

    def get(self, question_id: str) -> Question | None:
        return self._by_id.get(question_id)

    def __len__(self) -> int:
        return len(self._questions)

    def __iter__(self) -> Iterator[Question]:
        return iter(self._questions)

    def categories(self) -> dict[str, int]:
        """Questions per category, for the categories that have any, in CATEGORIES order."""
        counts = Counter(q.category for q in self._questions)
        return {c: counts[c] for c in CATEGORIES if counts[c]}

    def difficulties(self) -> dict[str, int]:
        """Questions per difficulty, for the difficulties that have any, easiest first."""
        counts = Counter(q.difficulty for q in self._questions)
        return {d: counts[d] for d in DIFFICULTIES if counts[d]}

    def without_file(self, file: str | None) -> list[Question]:
        """Every question except an imported file's: what a new version of that file is checked against."""
        return [q for s in self.sources if not (s.kind == "imported" and s.file == file) for q in s.questions]


@dataclass(frozen=True)
class BankComposition:
    """What a bank is made of (`quranbot quiz stats`): questions per source, category, difficulty and, for
    the generated ones, per template (each generated question's first tag)."""

    total: int
    sources: tuple[tuple[SourceKind, str, str | None, int], ...]
    categories: dict[str, int]
    difficulties: dict[str, int]
    templates: dict[str, int]

    @classmethod
    def of(cls, bank: QuestionBank) -> BankComposition:
        templates = Counter(
            q.tags[0] for s in bank.sources if s.kind == "generated" for q in s.questions if q.tags
        )
        return cls(
            total=len(bank),
            sources=tuple((s.kind, s.name, s.file, len(s.questions)) for s in bank.sources),
            categories={c: len(bank.questions(category=c)) for c in CATEGORIES},
            difficulties={d: len(bank.questions(difficulty=d)) for d in DIFFICULTIES},
            templates=dict(sorted(templates.items(), key=lambda item: (-item[1], item[0]))),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "total": self.total,
            "sources": [
                {"kind": kind, "name": name, "file": file, "questions": count}
                for kind, name, file, count in self.sources
            ],
            "categories": self.categories,
            "difficulties": self.difficulties,
            "templates": self.templates,
        }


def bank_file_name(name: str) -> str:
    """The file an imported bank is kept in, from its name: "Quran basics" -> `quran-basics.toml`.

    A name with no Latin letters or digits (e.g. all Arabic) gets a stable name from its SHA-256.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = "-".join(re.findall(r"[a-z0-9]+", ascii_name))[:60].strip("-")
    if not slug:
        slug = "bank-" + hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{slug}.toml"


def _log_problems(what: str, problems: list[Problem]) -> None:
    shown = [str(p) for p in problems[:_LOGGED_PROBLEMS]]
    more = len(problems) - len(shown)
    log.error(
        "Quiz bank %s is not loaded (%d problem%s; `quranbot quiz validate FILE` lists them):\n%s%s",
        what,
        len(problems),
        "" if len(problems) == 1 else "s",
        "\n".join(shown),
        f"\n... and {more} more" if more else "",
    )


@functools.cache
def shipped_sources() -> tuple[BankSource, ...]:
    """The generated questions and the curated banks in the package, each checked against those before
    it; built once per process (they change only with the package)."""
    sources = [BankSource("generated", GENERATED_NAME, None, generated_questions())]
    folder = files(_SHIPPED_PACKAGE).joinpath(_SHIPPED_DIR)
    resources = sorted((r for r in folder.iterdir() if r.name.endswith(".toml")), key=lambda r: r.name)
    for resource in resources:
        existing = [q for s in sources for q in s.questions]
        label = f"{_SHIPPED_PACKAGE}/{_SHIPPED_DIR}/{resource.name}"
        parsed, problems = check_bank_bytes(resource.read_bytes(), label, existing, source=resource.name)
        if problems:
            _log_problems(label, problems)
            continue
        sources.append(
            BankSource(
                "shipped", parsed.name or resource.name, resource.name, parsed.questions, parsed.description
            )
        )
    return tuple(sources)


_Signature = tuple[tuple[str, int, int, int], ...]


class BankLoader:
    """The bank for a running bot: cached, and reloaded when the banks directory changes."""

    def __init__(self, banks_dir: Path) -> None:
        self.banks_dir = banks_dir
        self._lock = threading.Lock()
        self._signature: _Signature | None = None
        self._bank: QuestionBank | None = None
        self._reported: set[tuple[str, int, int, int]] = set()

    def _scan(self) -> _Signature:
        """Name, modification time, size and inode of each bank file: what a change alters."""
        found = []
        try:
            with os.scandir(self.banks_dir) as entries:
                for entry in entries:
                    if entry.name.endswith(".toml") and not entry.name.startswith(".") and entry.is_file():
                        info = entry.stat()
                        found.append((entry.name, info.st_mtime_ns, info.st_size, info.st_ino))
        except FileNotFoundError:
            return ()
        except OSError as exc:
            log.error("Cannot read the quiz banks directory %s: %s", self.banks_dir, exc)
            return ()
        return tuple(sorted(found))

    def bank(self) -> QuestionBank:
        """The current bank; a cheap directory check decides whether to reload the imported files."""
        with self._lock:
            signature = self._scan()
            if self._bank is None or signature != self._signature:
                self._bank = self._load(signature)
                self._signature = signature
            return self._bank

    def _load(self, signature: _Signature) -> QuestionBank:
        sources, refused = load_imported(self.banks_dir, [version[0] for version in signature])
        for version in signature:
            problems = refused.get(version[0])
            if problems and version not in self._reported:
                self._reported.add(version)
                _log_problems(str(self.banks_dir / version[0]), problems)
        return QuestionBank(sources)


def load_imported(banks_dir: Path, names: Iterable[str]) -> tuple[list[BankSource], dict[str, list[Problem]]]:
    """The shipped sources plus each imported file that checks out against those before it, and the
    problems of each file that does not (for the bot's log and for `quranbot doctor`)."""
    sources = list(shipped_sources())
    refused: dict[str, list[Problem]] = {}
    for name in names:
        path = banks_dir / name
        existing = [q for s in sources for q in s.questions]
        try:
            parsed, problems = check_bank_bytes(path.read_bytes(), str(path), existing)
        except OSError as exc:
            parsed, problems = None, [Problem(str(path), 0, f"cannot read it: {exc}")]
        if problems or parsed is None:
            refused[name] = problems
            continue
        sources.append(
            BankSource("imported", parsed.name or name, name, parsed.questions, parsed.description)
        )
    return sources, refused
