"""Achievements a member earns by answering: each a rule over the member's quiz record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from quranbot.i18n.catalog import N_, Phrase
from quranbot.store.records import QuizScore

#: Correct answers in a category, at this accuracy or better, to have "mastered" it.
MASTERY_CORRECT, MASTERY_ACCURACY = 25, 0.9


@dataclass(frozen=True)
class Achievement:
    id: str
    name: str
    #: Said in the reader's language (`description.said_in(text)`); it may carry a figure.
    description: Phrase
    earned: Callable[[QuizScore], bool]


def _mastered(score: QuizScore) -> bool:
    return any(
        correct >= MASTERY_CORRECT and correct / answered >= MASTERY_ACCURACY
        for correct, answered in score.categories.values()
        if answered
    )


ACHIEVEMENTS: tuple[Achievement, ...] = (
    Achievement(
        "first-correct", N_("First step"), Phrase.of("a first correct answer"), lambda s: s.correct >= 1
    ),
    Achievement(
        "streak-10",
        N_("Ten in a row"),
        Phrase.of("10 correct answers in a row"),
        lambda s: s.best_streak >= 10,
    ),
    Achievement(
        "streak-25",
        N_("Twenty-five in a row"),
        Phrase.of("25 correct answers in a row"),
        lambda s: s.best_streak >= 25,
    ),
    Achievement(
        "answers-100", N_("Devoted"), Phrase.of("100 questions answered"), lambda s: s.answered >= 100
    ),
    Achievement(
        "points-1000", N_("A thousand points"), Phrase.of("1,000 points"), lambda s: s.points >= 1000
    ),
    Achievement(
        "category-mastered",
        N_("Mastery"),
        Phrase.of(
            "{count} correct in one category at {accuracy} accuracy or better",
            count=MASTERY_CORRECT,
            accuracy=f"{MASTERY_ACCURACY:.0%}",
        ),
        _mastered,
    ),
)
BY_ID = {a.id: a for a in ACHIEVEMENTS}


def newly_earned(score: QuizScore) -> list[Achievement]:
    """Achievements the record qualifies for and has not been given yet (they are not added here)."""
    return [a for a in ACHIEVEMENTS if a.id not in score.achievements and a.earned(score)]
