"""Quiz questions generated from Tanzil's data files, so every fact a question states is read, never typed.

Names, counts, Meccan/Medinan, revelation order, juz boundaries and sajdas come from `quran-data.xml`
(through `quranbot.quran.metadata`); quoted ayahs come byte for byte from `quran-uthmani.txt` and
`en.pickthall.txt` (through `quranbot.quran.text`). The set is the same on every run and every machine:
each question's choices are arranged by a `random.Random` seeded from a SHA-256 of its id, never from
Python's salted `hash()`.

Templates (ids are `gen:<template>:<params>`), one question per surah unless noted:

| template | asks | base |
|---|---|---|
| `name-of` | the transliterated name of surah N | beginner |
| `number-of` | the number of a surah named by its transliteration | beginner |
| `english-name` | Tanzil's English name of a surah | beginner |
| `arabic-name` | the surah whose Arabic name is quoted | beginner |
| `ayah-count` | how many ayahs a surah has | intermediate |
| `juz` | the juz a surah begins in | intermediate |
| `medinan` / `meccan` | which of four surahs is Medinan (three Meccan), or the reverse | intermediate |
| `most-ayahs` / `fewest-ayahs` | which of four surahs has the most / the fewest ayahs | intermediate |
| `ayah-from` | the surah of a quoted ayah, in Tanzil's Arabic | intermediate |
| `translation-from` | the surah of a quoted ayah, in Pickthall's translation | intermediate |
| `revealed-first` | which of four surahs comes first in Tanzil's revelation order | advanced |
| `sajda` | which of four ayahs of a surah is a sajda ayah (one per sajda in the data) | advanced |

Every question, explanation and choice is worded as catalog phrases with the data as placeholders
(`Question.wording`): an Arabic-speaking server reads the same question, the same choices in the same
order and the same answer, with the surahs named by Tanzil's Arabic names. The English strings of the
`Question` are those phrases' English, so the English reads exactly as it always did.

Difficulty is the template's base, one step harder (capped at advanced) unless every surah the question
is about is familiar. Familiar surahs are derived from the data alone: surah 1, the surah with the most
ayahs, and every surah that begins in juz 30. A question about one surah is about that surah; one
comparing four surahs is about all four.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from quranbot.i18n.catalog import LeftToRight, Listed, Phrase
from quranbot.i18n.surah_names import SurahCited, SurahName, SurahNumbered, SurahTitled
from quranbot.quiz.question import DIFFICULTIES, Difficulty, Question, Reference, Wording
from quranbot.quran.metadata import QuranMetadata, Surah, load_metadata
from quranbot.quran.text import ARABIC_CREDIT, TRANSLATION_CREDIT, TRANSLATION_FILE, QuranText, load_text

__all__ = ["BASE_DIFFICULTY", "QUOTE_MAX_CHARS", "QUOTE_WORDS", "familiar_surahs", "generated_questions"]

#: Each template's difficulty before the familiarity step (see the module docstring).
BASE_DIFFICULTY: dict[str, Difficulty] = {
    "name-of": "beginner",
    "number-of": "beginner",
    "english-name": "beginner",
    "arabic-name": "beginner",
    "ayah-count": "intermediate",
    "juz": "intermediate",
    "medinan": "intermediate",
    "meccan": "intermediate",
    "most-ayahs": "intermediate",
    "fewest-ayahs": "intermediate",
    "ayah-from": "intermediate",
    "translation-from": "intermediate",
    "revealed-first": "advanced",
    "sajda": "advanced",
}

#: A quoted ayah has this many words (a word holds at least one letter; pause marks are not words)...
QUOTE_WORDS = range(5, 61)
#: ...and fewer characters than this, so it reads as a question and fits a Discord embed.
QUOTE_MAX_CHARS = 1500
#: Comparison templates look for their other surahs this far away by number, at most.
_COMPARE_REACH = 10
#: Distractors for a sajda question keep this far from any sajda ayah of the surah, so a near miss is
#: never offered as a wrong answer.
_SAJDA_MARGIN = 2

_DATA_URL = "https://tanzil.net"


@dataclass(frozen=True)
class _Data:
    meta: QuranMetadata
    arabic: QuranText
    english: QuranText
    familiar: frozenset[int]


def _rng(question_id: str) -> random.Random:
    """The same generator for the same id on every machine and Python run."""
    return random.Random(int.from_bytes(hashlib.sha256(question_id.encode()).digest()[:8], "big"))


def familiar_surahs(meta: QuranMetadata) -> frozenset[int]:
    """Surah 1, the longest surah and every surah that begins in juz 30, all read from the metadata."""
    longest = max(meta.surahs, key=lambda s: s.ayah_count)
    last_juz = meta.juz_count
    return frozenset(
        {1, longest.number} | {s.number for s in meta.surahs if meta.juz_of(s.number, 1) == last_juz}
    )


def _difficulty(data: _Data, template: str, surahs: Iterable[int]) -> Difficulty:
    level = DIFFICULTIES.index(BASE_DIFFICULTY[template])
    if not all(n in data.familiar for n in surahs):
        level += 1
    return DIFFICULTIES[min(level, len(DIFFICULTIES) - 1)]


def _label(surah: Surah) -> SurahNumbered:
    """How a surah shows as a choice: `18. Al-Kahf` (`18. الكهف` in Arabic)."""
    return SurahNumbered(surah.number)


def _transliterated(surah: Surah) -> str:
    """A choice that stays `18. Al-Kahf` in every language (the question quotes the Arabic name)."""
    return str(SurahNumbered(surah.number))


def _sura_citation(surah: Surah) -> Reference:
    return Reference(
        citation=(
            f"Tanzil quran-data.xml: sura {surah.number} (name={surah.arabic_name}, tname={surah.name}, "
            f"ename={surah.english_name}, ayas={surah.ayah_count}, type={surah.revelation_type}, "
            f"order={surah.revelation_order})"
        ),
        url=_DATA_URL,
    )


def _first_ayah(surah: Surah) -> Reference:
    return Reference(surah=surah.number, first_ayah=1, last_ayah=1)


def _arrange(
    question_id: str, correct: object, distractors: Sequence[object]
) -> tuple[tuple[object, object, object, object], int]:
    """Four choices, distinct in English, with the correct one at a seeded position; refuses anything
    else. The order depends on the id alone, never on the language the choices are said in."""
    english = [str(c) for c in (correct, *distractors)]
    if len(distractors) != 3 or len(set(english)) != 4:
        raise ValueError(
            f"{question_id}: needs 3 distinct distractors besides {english[0]!r}, got {english[1:]}"
        )
    rng = _rng(question_id)
    ordered = list(distractors)
    rng.shuffle(ordered)
    answer = rng.randrange(4)
    ordered.insert(answer, correct)
    return (ordered[0], ordered[1], ordered[2], ordered[3]), answer


def _question(
    data: _Data,
    question_id: str,
    *,
    about: Iterable[int],
    text: Phrase,
    correct: object,
    distractors: Sequence[object],
    explanation: Phrase,
    references: Iterable[Reference],
    quote: str | None = None,
) -> Question:
    """`correct` and `distractors` are strings or `Sayable`s (said in the reader's language)."""
    template = question_id.split(":")[1]
    choices, answer = _arrange(question_id, correct, distractors)
    return Question(
        id=question_id,
        category="quran",
        difficulty=_difficulty(data, template, about),
        question=str(text),
        choices=(str(choices[0]), str(choices[1]), str(choices[2]), str(choices[3])),
        answer=answer,
        explanation=str(explanation),
        references=tuple(references),
        tags=(template,),
        quote=quote,
        wording=Wording(text, explanation, choices),
    )


def _some_and_last(surahs: Sequence[Surah]) -> Phrase:
    """`Al-Kahf (18), Maryam (19) and Taa-Haa (20)`."""
    return Phrase.of(
        "{some} and {last}",
        some=Listed(tuple(SurahCited(s.number) for s in surahs[:-1])),
        last=SurahCited(surahs[-1].number),
    )


def _each_with(surahs: Sequence[Surah], value: Callable[[Surah], int]) -> Listed:
    """`Al-Kahf (18) 110, Maryam (19) 98`: each surah with a figure of its own."""
    # TRANSLATORS: a surah, then its figure (its ayahs, or its place in the revelation order).
    return Listed(
        tuple(Phrase.of("{surah} {value}", surah=SurahCited(s.number), value=value(s)) for s in surahs)
    )


def _nearby(
    meta: QuranMetadata, number: int, accept: Callable[[Surah, list[Surah]], bool], reach: int = 200
) -> list[Surah]:
    """Up to three surahs nearest to `number` (n-1, n+1, n-2, ...) that `accept` takes, given those
    already taken."""
    found: list[Surah] = []
    for distance in range(1, reach + 1):
        for candidate in (number - distance, number + distance):
            if 1 <= candidate <= len(meta.surahs) and len(found) < 3:
                surah = meta.surah(candidate)
                if accept(surah, found):
                    found.append(surah)
        if len(found) == 3:
            break
    return found


# --- templates ---------------------------------------------------------------------------------------


def _name_of(data: _Data, surah: Surah) -> Question:
    n = surah.number
    return _question(
        data,
        f"gen:name-of:{n}",
        about=[n],
        text=Phrase.of("What is the name of surah {number}?", number=n),
        correct=SurahName(n),
        distractors=[SurahName(s.number) for s in _nearby(data.meta, n, lambda s, _: True)],
        explanation=Phrase.of("Surah {number} is {surah}.", number=n, surah=SurahTitled(n)),
        references=(_sura_citation(surah), _first_ayah(surah)),
    )


def _number_of(data: _Data, surah: Surah) -> Question:
    n = surah.number
    return _question(
        data,
        f"gen:number-of:{n}",
        about=[n],
        text=Phrase.of("What is the number of surah {surah}?", surah=SurahName(n)),
        correct=str(n),
        distractors=[str(s.number) for s in _nearby(data.meta, n, lambda s, _: True)],
        explanation=Phrase.of("{surah} is surah {number}.", surah=SurahTitled(n), number=n),
        references=(_sura_citation(surah), _first_ayah(surah)),
    )


def _english_name(data: _Data, surah: Surah) -> Question:
    def fits(s: Surah, taken: list[Surah]) -> bool:  # two surahs share an English name in the data
        return s.english_name not in {surah.english_name, *(t.english_name for t in taken)}

    n = surah.number
    return _question(
        data,
        f"gen:english-name:{n}",
        about=[n],
        text=Phrase.of("What is the English name of surah {surah}?", surah=SurahCited(n)),
        correct=surah.english_name,
        distractors=[s.english_name for s in _nearby(data.meta, n, fits)],
        explanation=Phrase.of(
            "Tanzil gives {surah} the English name “{english}”.",
            surah=SurahCited(n),
            english=surah.english_name,
        ),
        references=(_sura_citation(surah), _first_ayah(surah)),
    )


def _arabic_name(data: _Data, surah: Surah) -> Question:
    n = surah.number
    return _question(
        data,
        f"gen:arabic-name:{n}",
        about=[n],
        text=Phrase.of("Which surah has this Arabic name?"),
        quote=surah.arabic_name,
        # The choices stay transliterated in Arabic too: said in Arabic they would quote the answer.
        correct=_transliterated(surah),
        distractors=[
            _transliterated(s) for s in _nearby(data.meta, n, lambda s, _: s.arabic_name != surah.arabic_name)
        ],
        explanation=Phrase.of(
            "It is the Arabic name of surah {number}, {surah}.",
            number=n,
            surah=f"{surah.name} ({surah.english_name})",
        ),
        references=(_sura_citation(surah), _first_ayah(surah)),
    )


def _ayah_count(data: _Data, surah: Surah) -> Question:
    qid, count = f"gen:ayah-count:{surah.number}", surah.ayah_count
    step = max(1, round(count / 20))
    near = [count + k * step for k in (-3, -2, -1, 1, 2, 3) if count + k * step > 0]
    return _question(
        data,
        qid,
        about=[surah.number],
        text=Phrase.of("How many ayahs does {surah} have?", surah=SurahCited(surah.number)),
        correct=str(count),
        distractors=[str(x) for x in _rng(qid + ":near").sample(near, 3)],
        explanation=Phrase.of(
            "{surah} has {count} ayahs in Tanzil's count.", surah=SurahTitled(surah.number), count=count
        ),
        references=(_sura_citation(surah), _first_ayah(surah)),
    )


def _juz(data: _Data, surah: Surah) -> Question:
    meta, qid = data.meta, f"gen:juz:{surah.number}"
    juz = meta.juz_of(surah.number, 1)
    near = [j for j in range(juz - 3, juz + 4) if j != juz and 1 <= j <= meta.juz_count]
    bounds = f"juz {juz} starts at {meta.juz_start(juz)}"
    cited, start = SurahCited(surah.number), LeftToRight(str(meta.juz_start(juz)))
    if juz < meta.juz_count:
        bounds += f", juz {juz + 1} at {meta.juz_start(juz + 1)}"
        explanation = Phrase.of(
            "{surah} begins in juz {juz}; Tanzil's juz {juz} starts at {start}, juz {next} at {next_start}.",
            surah=cited,
            juz=juz,
            start=start,
            next=juz + 1,
            next_start=LeftToRight(str(meta.juz_start(juz + 1))),
        )
    else:
        explanation = Phrase.of(
            "{surah} begins in juz {juz}; Tanzil's juz {juz} starts at {start}.",
            surah=cited,
            juz=juz,
            start=start,
        )
    return _question(
        data,
        qid,
        about=[surah.number],
        text=Phrase.of("In which juz does surah {surah} begin?", surah=cited),
        correct=Phrase.of("Juz {number}", number=juz),
        distractors=[Phrase.of("Juz {number}", number=j) for j in _rng(qid + ":near").sample(near, 3)],
        explanation=explanation,
        references=(
            Reference(citation=f"Tanzil quran-data.xml: {bounds}", url=_DATA_URL),
            _sura_citation(surah),
            _first_ayah(surah),
        ),
    )


def _revelation_type(data: _Data, surah: Surah) -> Question:
    kind = surah.revelation_type
    others = _nearby(data.meta, surah.number, lambda s, _: s.revelation_type != kind)
    if any(s.revelation_type == kind for s in others):  # never a second correct answer
        raise ValueError(f"{surah.number}: a distractor is {kind} too")
    cited, names = SurahCited(surah.number), _some_and_last(others)
    if kind == "Medinan":
        text = Phrase.of("Which of these surahs is Medinan, in Tanzil's classification?")
        explanation = Phrase.of(
            "Tanzil classifies {surah} as Medinan; {others} are Meccan.", surah=cited, others=names
        )
    else:
        text = Phrase.of("Which of these surahs is Meccan, in Tanzil's classification?")
        explanation = Phrase.of(
            "Tanzil classifies {surah} as Meccan; {others} are Medinan.", surah=cited, others=names
        )
    return _question(
        data,
        f"gen:{kind.lower()}:{surah.number}",
        about=[surah.number, *(s.number for s in others)],
        text=text,
        correct=_label(surah),
        distractors=[_label(s) for s in others],
        explanation=explanation,
        references=(*(_sura_citation(s) for s in (surah, *others)), _first_ayah(surah)),
    )


def _revealed_first(data: _Data, surah: Surah) -> Question | None:
    others = _nearby(
        data.meta, surah.number, lambda s, _: s.revelation_order > surah.revelation_order, _COMPARE_REACH
    )
    if len(others) < 3:
        return None
    ranked = sorted((surah, *others), key=lambda s: s.revelation_order)
    return _question(
        data,
        f"gen:revealed-first:{surah.number}",
        about=[s.number for s in ranked],
        text=Phrase.of("Which of these surahs comes first in the revelation order (Tanzil)?"),
        correct=_label(surah),
        distractors=[_label(s) for s in others],
        explanation=Phrase.of(
            "Tanzil's revelation order numbers them {orders}.",
            orders=_each_with(ranked, lambda s: s.revelation_order),
        ),
        references=(*(_sura_citation(s) for s in ranked), _first_ayah(surah)),
    )


def _extreme(data: _Data, surah: Surah, most: bool) -> Question | None:
    def fits(s: Surah, taken: list[Surah]) -> bool:
        beaten = s.ayah_count < surah.ayah_count if most else s.ayah_count > surah.ayah_count
        return beaten and s.ayah_count not in {t.ayah_count for t in taken}

    others = _nearby(data.meta, surah.number, fits, _COMPARE_REACH)
    if len(others) < 3:
        return None
    ranked = sorted((surah, *others), key=lambda s: s.ayah_count, reverse=most)
    which = "most" if most else "fewest"
    text = (
        Phrase.of("Which of these surahs has the most ayahs?")
        if most
        else Phrase.of("Which of these surahs has the fewest ayahs?")
    )
    return _question(
        data,
        f"gen:{which}-ayahs:{surah.number}",
        about=[s.number for s in ranked],
        text=text,
        correct=_label(surah),
        distractors=[_label(s) for s in others],
        explanation=Phrase.of(
            "In Tanzil's count: {counts}.", counts=_each_with(ranked, lambda s: s.ayah_count)
        ),
        references=(*(_sura_citation(s) for s in ranked), _first_ayah(surah)),
    )


def _most_ayahs(data: _Data, surah: Surah) -> Question | None:
    return _extreme(data, surah, most=True)


def _fewest_ayahs(data: _Data, surah: Surah) -> Question | None:
    return _extreme(data, surah, most=False)


def _sajdas(data: _Data) -> Iterator[Question]:
    meta = data.meta
    for sajda in meta.sajdas:
        surah = meta.surah(sajda.ref.surah)
        marked = sorted(s.ref.ayah for s in meta.sajdas if s.ref.surah == surah.number)
        qid = f"gen:sajda:{sajda.ref.surah}:{sajda.ref.ayah}"
        pool = [a for a in range(1, surah.ayah_count + 1) if all(abs(a - m) > _SAJDA_MARGIN for m in marked)]
        others = [a for a in marked if a != sajda.ref.ayah]
        ref = LeftToRight(str(sajda.ref))
        explanation = (
            Phrase.of(
                "Tanzil's metadata lists {ref} as a sajda ayah; {surah} has another at {others}.",
                ref=ref,
                surah=SurahName(surah.number),
                others=Listed(tuple(LeftToRight(f"{surah.number}:{a}") for a in others)),
            )
            if others
            else Phrase.of("Tanzil's metadata lists {ref} as a sajda ayah.", ref=ref)
        )
        yield _question(
            data,
            qid,
            about=[surah.number],
            text=Phrase.of(
                "Which ayah of surah {surah} is a sajda (prostration) ayah?", surah=SurahCited(surah.number)
            ),
            correct=Phrase.of("Ayah {number}", number=sajda.ref.ayah),
            distractors=[Phrase.of("Ayah {number}", number=a) for a in _rng(qid + ":pool").sample(pool, 3)],
            explanation=explanation,
            references=(
                Reference(
                    citation=f"Tanzil quran-data.xml: sajda {sajda.number} at {sajda.ref}, type={sajda.type}",
                    url=_DATA_URL,
                ),
                Reference(surah=surah.number, first_ayah=sajda.ref.ayah, last_ayah=sajda.ref.ayah),
            ),
        )


def _words(text: str) -> int:
    return sum(1 for token in text.split() if any(ch.isalpha() for ch in token))


def _quotable(meta: QuranMetadata, text: QuranText) -> dict[int, list[int]]:
    """Per surah, the ayahs fit to quote: unique in the file, not ayah 1, of a readable length."""
    seen = Counter(text.lines)
    fit: dict[int, list[int]] = {}
    for index, line in enumerate(text.lines):
        ref = meta.ayah_at(index)
        if ref.ayah != 1 and seen[line] == 1 and _words(line) in QUOTE_WORDS and len(line) < QUOTE_MAX_CHARS:
            fit.setdefault(ref.surah, []).append(ref.ayah)
    return fit


def _ayahs_from(data: _Data, template: str, text: QuranText, credit: str) -> Iterator[Question]:
    meta = data.meta
    english = template == "translation-from"
    for number, ayahs in sorted(_quotable(meta, text).items()):
        surah = meta.surah(number)
        ayah = _rng(f"gen:{template}:{number}").choice(ayahs)
        others = _nearby(meta, number, lambda s, _: True)
        yield _question(
            data,
            f"gen:{template}:{number}:{ayah}",
            about=[number],
            text=(
                Phrase.of("Which surah is this ayah from? (Pickthall's English translation)")
                if english
                else Phrase.of("Which surah is this ayah from?")
            ),
            quote=text.ayah(number, ayah),
            correct=_label(surah),
            distractors=[_label(s) for s in others],
            explanation=Phrase.of(
                "This is {ref}, in {surah}.", ref=LeftToRight(f"{number}:{ayah}"), surah=SurahTitled(number)
            ),
            references=(
                Reference(surah=number, first_ayah=ayah, last_ayah=ayah, citation=credit, url=_DATA_URL),
            ),
        )


#: The per-surah templates, in the order the set lists them.
_PER_SURAH: tuple[Callable[[_Data, Surah], Question | None], ...] = (
    _name_of,
    _number_of,
    _english_name,
    _arabic_name,
    _ayah_count,
    _juz,
    _revelation_type,
    _most_ayahs,
    _fewest_ayahs,
    _revealed_first,
)


@functools.cache
def generated_questions() -> tuple[Question, ...]:
    """Every generated question in a fixed order (by template, then surah), built once per process."""
    meta = load_metadata()
    data = _Data(meta, load_text(), load_text(TRANSLATION_FILE), familiar_surahs(meta))
    questions: list[Question] = []
    for template in _PER_SURAH:
        questions.extend(q for s in meta.surahs if (q := template(data, s)) is not None)
    questions.extend(_sajdas(data))
    questions.extend(_ayahs_from(data, "ayah-from", data.arabic, ARABIC_CREDIT))
    questions.extend(_ayahs_from(data, "translation-from", data.english, TRANSLATION_CREDIT))
    return tuple(questions)
