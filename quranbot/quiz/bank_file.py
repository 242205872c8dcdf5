"""Curated quiz banks: the TOML format an admin writes (docs/QUIZ.md), read into `Question`s.

This module checks the shape of a file (keys, types, four choices, the answer letter, how a reference
is written) and says where each problem is. tomllib gives values without positions, so lines are found
in the raw text: the n-th `[[questions]]` header is the n-th question, its `key =` lines are inside
that block, and the k-th `{` of its `references` array is its k-th reference. Checks against the Quran
data and the rest of the bank (ranges, quotes, ids, near-duplicates) are in `validate.py`.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from quranbot.quiz.question import (
    CATEGORIES,
    DIFFICULTIES,
    LETTERS,
    Category,
    Difficulty,
    Question,
    Reference,
)

__all__ = [
    "BankEntry",
    "BankReference",
    "ParsedBank",
    "Problem",
    "choice_key",
    "parse_bank",
    "parse_bank_bytes",
]

ID_PATTERN = re.compile(r"[a-z0-9-]+")
ID_MAX = 60
TEXT_MAX = 1000
CHOICE_MAX = 80
TAG_MAX = 40
SOURCE_MAX = 300
QURAN_PATTERN = re.compile(r"(\d+):(\d+)(?:-(\d+))?")

BANK_KEYS = {"name": True, "description": False}  # key -> required
QUESTION_KEYS = {
    "id": True,
    "category": True,
    "difficulty": True,
    "question": True,
    "question_ar": False,
    "choices": True,
    "answer": True,
    "explanation": True,
    "explanation_ar": False,
    "tags": False,
    "references": True,
}
REFERENCE_KEYS = ("quran", "quote", "source", "url")


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a bank file, where it is: printed `file:line: message`."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class BankReference:
    """A reference as read, with its line (for problems found later against the Quran data)."""

    reference: Reference
    line: int
    #: The `quran` value as written ("2:255"), or None for a citation.
    quran: str | None


@dataclass(frozen=True)
class BankEntry:
    """One `[[questions]]` table: what could be read of it, and the Question if all of it was right."""

    number: int
    line: int
    key_lines: Mapping[str, int]
    id: str | None
    text: str | None
    references: tuple[BankReference, ...]
    question: Question | None

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)

    @property
    def label(self) -> str:
        """How problems name the question: `question 3 ("quran-ikhlas-one")`."""
        return f'question {self.number} ("{self.id}")' if self.id else f"question {self.number}"


@dataclass(frozen=True)
class ParsedBank:
    file: str
    name: str | None
    description: str | None
    entries: tuple[BankEntry, ...]
    problems: tuple[Problem, ...]

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(e.question for e in self.entries if e.question is not None)


def choice_key(choice: str) -> str:
    """Choices compare without case or spaces: "The Cave" and "the  cave" are the same choice."""
    return "".join(unicodedata.normalize("NFKC", choice).casefold().split())


# --- where things are in the raw text ------------------------------------------------------------------

_HEADER = re.compile(r"\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")


@dataclass
class _Layout:
    """Line numbers of the headers, keys and reference tables, from one pass over the text that skips
    strings and comments (so a `[[questions]]` inside a string is not a header)."""

    #: Per question header: its line, its own `key = ` lines, and its references' lines.
    questions: list[tuple[int, dict[str, int], list[int]]] = field(default_factory=list)
    bank_line: int | None = None
    bank_keys: dict[str, int] = field(default_factory=dict)
    top_keys: dict[str, int] = field(default_factory=dict)


def _code_lines(text: str) -> tuple[list[int], list[tuple[str, int, int]]]:
    """The lines that start outside any string or bracket (where a header or key may be), and every
    bracket outside strings and comments as (char, line, depth before it)."""
    starts: list[int] = [1]
    brackets: list[tuple[str, int, int]] = []
    line, depth, i, n = 1, 0, 0, len(text)
    mode = ""  # "", '"', "'", '"""', "'''", "#"
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            if mode in ('"', "'", "#"):
                mode = ""
            if not mode and depth == 0:
                starts.append(line)
            i += 1
            continue
        if mode == "#":
            i += 1
        elif mode in ('"', '"""'):
            if ch == "\\":
                i += 1 if text.startswith("\n", i + 1) else 2  # a line-ending backslash still ends a line
            elif text.startswith(mode, i):
                mode, i = "", i + len(mode)
            else:
                i += 1
        elif mode in ("'", "'''"):
            if text.startswith(mode, i):
                mode, i = "", i + len(mode)
            else:
                i += 1
        elif ch == "#":
            mode, i = "#", i + 1
        elif ch in "\"'":
            mode = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(mode)
        else:
            if ch in "[{":
                brackets.append((ch, line, depth))
                depth += 1
            elif ch in "]}":
                depth = max(0, depth - 1)
                brackets.append((ch, line, depth))
            i += 1
    return starts, brackets


def _layout(text: str) -> _Layout:
    lines = text.split("\n")
    starts, brackets = _code_lines(text)
    layout = _Layout()
    section = "top"  # "top", "bank", "question", "question-sub", "other"
    references_at: list[tuple[int, int]] = []  # (question index, line of `references =`)
    for number in starts:
        raw = lines[number - 1]
        header = _HEADER.match(raw)
        if header and raw.lstrip().startswith("["):
            name = header.group(2).replace('"', "").replace(" ", "")
            if header.group(1) == "[[" and name == "questions":
                layout.questions.append((number, {}, []))
                section = "question"
            elif name == "bank":
                layout.bank_line, section = number, "bank"
            elif name.startswith("questions.") and layout.questions:
                section = "question-sub"
                if header.group(1) == "[[" and name == "questions.references":
                    layout.questions[-1][2].append(number)
            else:
                section = "other"
            continue
        key = _KEY.match(raw)
        if not key:
            continue
        name = next(g for g in key.groups() if g)
        if section == "top":
            layout.top_keys.setdefault(name, number)
        elif section == "bank":
            layout.bank_keys.setdefault(name, number)
        elif section == "question":
            layout.questions[-1][1].setdefault(name, number)
            if name == "references":
                references_at.append((len(layout.questions) - 1, number))
    for index, line in references_at:
        layout.questions[index][2].extend(_inline_tables(brackets, line))
    return layout


def _inline_tables(brackets: list[tuple[str, int, int]], key_line: int) -> list[int]:
    """The lines where the inline tables of the array that starts on `key_line` begin."""
    found: list[int] = []
    inside = False
    for ch, line, depth in brackets:
        if line < key_line:
            continue
        if not inside:
            if ch == "[" and depth == 0:
                inside = True
            elif line > key_line:
                break
        elif ch == "{" and depth == 1:
            found.append(line)
        elif ch == "]" and depth == 0:
            break
    return found


def _syntax_line(message: str, text: str) -> int:
    match = re.search(r"at line (\d+)", message)
    if match:
        return int(match.group(1))
    return max(1, text.count("\n") + (0 if text.endswith("\n") else 1))


# --- reading the values ----------------------------------------------------------------------------


class _Collector:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))


def _type_name(value: object) -> str:
    return {str: "a string", list: "an array", dict: "a table", bool: "a boolean", int: "an integer"}.get(
        type(value), type(value).__name__
    )


def _text(
    out: _Collector, line: int, where: str, key: str, value: object, limit: int = TEXT_MAX
) -> str | None:
    if not isinstance(value, str):
        out.add(line, f"{where}: {key} must be a string, not {_type_name(value)}")
        return None
    if not value.strip():
        out.add(line, f"{where}: {key} is empty")
        return None
    if len(value) > limit:
        out.add(line, f"{where}: {key} is {len(value):,} characters; at most {limit:,}")
        return None
    return value


def _keys(
    out: _Collector,
    line: int,
    where: str,
    table: Mapping[str, object],
    allowed: Mapping[str, bool],
    key_lines: Mapping[str, int],
) -> bool:
    """Unknown and missing keys; True when the table has neither."""
    ok = True
    for key in table:
        if key not in allowed:
            out.add(key_lines.get(key, line), f"{where}: unknown key {key!r} (known: {', '.join(allowed)})")
            ok = False
    for key, required in allowed.items():
        if required and key not in table:
            out.add(line, f"{where}: missing {key!r}")
            ok = False
    return ok


def _bank(out: _Collector, data: dict[str, object], layout: _Layout) -> tuple[str | None, str | None]:
    for key in data:
        if key not in ("bank", "questions"):
            out.add(layout.top_keys.get(key, 1), f"unknown top-level key {key!r} (known: bank, questions)")
    table = data.get("bank")
    line = layout.bank_line or 1
    if not isinstance(table, dict):
        out.add(line, "missing the [bank] table (name = ..., description = ...)")
        return None, None
    _keys(out, line, "[bank]", table, BANK_KEYS, layout.bank_keys)
    name = description = None
    if "name" in table:
        name = _text(out, layout.bank_keys.get("name", line), "[bank]", "name", table["name"], 100)
    if "description" in table:
        where = layout.bank_keys.get("description", line)
        description = _text(out, where, "[bank]", "description", table["description"])
    return name, description


def _reference(out: _Collector, line: int, where: str, value: object) -> BankReference | None:
    if not isinstance(value, dict):
        out.add(line, f'{where}: must be a table like {{ quran = "2:255" }}, not {_type_name(value)}')
        return None
    ok = True
    for key in value:
        if key not in REFERENCE_KEYS:
            out.add(line, f"{where}: unknown key {key!r} (known: {', '.join(REFERENCE_KEYS)})")
            ok = False
    if "quran" not in value and "source" not in value:
        out.add(line, f'{where}: needs quran = "S:A" (or "S:A-B") or source = "..."')
        return None
    if "quote" in value and "quran" not in value:
        out.add(line, f"{where}: a quote needs the quran range it is quoted from")
        ok = False
    surah = first = last = None
    quran = value.get("quran")
    if quran is not None:
        match = QURAN_PATTERN.fullmatch(quran.strip()) if isinstance(quran, str) else None
        if match is None:
            out.add(line, f'{where}: quran = {quran!r} is not "S:A" or "S:A-B" (e.g. "2:255", "2:1-5")')
            ok = False
        else:
            surah, first = int(match.group(1)), int(match.group(2))
            last = int(match.group(3)) if match.group(3) else first
    quote = value.get("quote")
    if quote is not None and _text(out, line, where, "quote", quote, 4000) is None:
        ok = False
    source = value.get("source")
    if source is not None and _text(out, line, where, "source", source, SOURCE_MAX) is None:
        ok = False
    url = value.get("url")
    if url is not None:
        parsed = urllib.parse.urlparse(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            out.add(line, f"{where}: url = {url!r} is not an http(s) address")
            ok = False
    if not ok:
        return None
    return BankReference(
        Reference(
            surah=surah,
            first_ayah=first,
            last_ayah=last,
            citation=cast(str | None, source),
            url=cast(str | None, url),
            quote=cast(str | None, quote),
        ),
        line,
        cast(str | None, quran),
    )


def _references(
    out: _Collector, entry_line: int, key_line: int, label: str, value: object, lines: list[int]
) -> tuple[tuple[BankReference, ...], bool]:
    if not isinstance(value, list):
        out.add(key_line, f"{label}: references must be an array of tables, not {_type_name(value)}")
        return (), False
    if not value:
        out.add(key_line, f"{label}: references is empty; at least one is needed")
        return (), False
    read: list[BankReference] = []
    for k, item in enumerate(value):
        line = lines[k] if k < len(lines) else key_line
        reference = _reference(out, line, f"{label}, reference {k + 1}", item)
        if reference is not None:
            read.append(reference)
    return tuple(read), len(read) == len(value)


def _choices(out: _Collector, line: int, label: str, value: object) -> tuple[str, str, str, str] | None:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        out.add(line, f"{label}: choices must be an array of 4 strings")
        return None
    ok = True
    if len(value) != len(LETTERS):
        out.add(line, f"{label}: choices has {len(value)} items; exactly {len(LETTERS)} are needed")
        ok = False
    seen: dict[str, int] = {}
    for position, choice in enumerate(value):
        if _text(out, line, label, f"choice {position + 1}", choice, CHOICE_MAX) is None:
            ok = False
            continue
        earlier = seen.setdefault(choice_key(choice), position)
        if earlier != position:
            out.add(line, f"{label}: choices {earlier + 1} and {position + 1} are the same ({choice!r})")
            ok = False
    if not ok:
        return None
    return (value[0], value[1], value[2], value[3])


def _entry(out: _Collector, number: int, table: object, layout: _Layout, source: str) -> BankEntry:
    header, key_lines, reference_lines = (
        layout.questions[number - 1] if number <= len(layout.questions) else (1, {}, [])
    )
    if not isinstance(table, dict):
        out.add(header, f"question {number}: must be a table, not {_type_name(table)}")
        return BankEntry(number, header, key_lines, None, None, (), None)
    before = len(out.problems)
    raw_id = table.get("id")
    qid = raw_id if isinstance(raw_id, str) else None
    entry = BankEntry(number, header, key_lines, qid, None, (), None)
    label = entry.label
    _keys(out, header, label, table, QUESTION_KEYS, key_lines)

    def line(key: str) -> int:
        return key_lines.get(key, header)

    if "id" in table:
        if qid is None:
            out.add(line("id"), f"{label}: id must be a string, not {_type_name(raw_id)}")
        elif not ID_PATTERN.fullmatch(qid) or len(qid) > ID_MAX:
            out.add(line("id"), f"{label}: id must be lowercase letters, digits and '-', at most {ID_MAX}")
    category = table.get("category")
    if "category" in table and category not in CATEGORIES:
        out.add(line("category"), f"{label}: category {category!r} is not one of {', '.join(CATEGORIES)}")
    difficulty = table.get("difficulty")
    if "difficulty" in table and difficulty not in DIFFICULTIES:
        out.add(
            line("difficulty"), f"{label}: difficulty {difficulty!r} is not one of {', '.join(DIFFICULTIES)}"
        )
    texts: dict[str, str | None] = {}
    for key in ("question", "explanation", "question_ar", "explanation_ar"):
        if key in table:
            texts[key] = _text(out, line(key), label, key, table[key])
    choices = _choices(out, line("choices"), label, table["choices"]) if "choices" in table else None
    answer = table.get("answer")
    if "answer" in table and answer not in LETTERS:
        out.add(line("answer"), f"{label}: answer {answer!r} must be the correct choice's letter, A to D")
    tags: tuple[str, ...] = ()
    if "tags" in table:
        raw_tags = table["tags"]
        if not isinstance(raw_tags, list) or not all(
            isinstance(t, str) and t.strip() and len(t) <= TAG_MAX for t in raw_tags
        ):
            out.add(line("tags"), f"{label}: tags must be an array of short strings (at most {TAG_MAX})")
        else:
            tags = tuple(raw_tags)
    references: tuple[BankReference, ...] = ()
    if "references" in table:
        references, _ = _references(
            out, header, line("references"), label, table["references"], reference_lines
        )
    text = texts.get("question")
    question = None
    if len(out.problems) == before and choices is not None and text is not None:
        explanation = texts["explanation"]
        assert qid is not None and explanation is not None and isinstance(answer, str)
        question = Question(
            id=qid,
            category=cast(Category, category),
            difficulty=cast(Difficulty, difficulty),
            question=text,
            choices=choices,
            answer=LETTERS.index(answer),
            explanation=explanation,
            references=tuple(r.reference for r in references),
            tags=tags,
            question_ar=texts.get("question_ar"),
            explanation_ar=texts.get("explanation_ar"),
            source=source,
        )
    return BankEntry(number, header, key_lines, qid, text, references, question)


def parse_bank_bytes(raw: bytes, file: str, source: str | None = None) -> ParsedBank:
    """Read a bank from its bytes. `file` names it in problems; `source` (default: the file's name) is
    what each question records as where it came from."""
    source = source or Path(file).name
    out = _Collector(file)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        out.add(raw[: exc.start].count(b"\n") + 1, "not UTF-8 text")
        return ParsedBank(file, None, None, (), tuple(out.problems))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        out.add(_syntax_line(str(exc), text), f"TOML syntax: {exc}")
        return ParsedBank(file, None, None, (), tuple(out.problems))
    layout = _layout(text)
    name, description = _bank(out, data, layout)
    raw_questions = data.get("questions")
    entries: list[BankEntry] = []
    if not isinstance(raw_questions, list) or not raw_questions:
        out.add(layout.top_keys.get("questions", 1), "no questions: add [[questions]] tables")
    else:
        entries = [_entry(out, n, table, layout, source) for n, table in enumerate(raw_questions, start=1)]
    return ParsedBank(file, name, description, tuple(entries), tuple(out.problems))


def parse_bank(path: Path) -> ParsedBank:
    """Read a bank file (OSError if it cannot be read); problems are named by the path as given."""
    return parse_bank_bytes(path.read_bytes(), str(path))
