"""Achievements a member earns by answering: each a rule over the member's quiz record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from quranbot.i18n.catalog import N_
from quranbot.store.records import QuizScore

#: Correct answers in a category, at this accuracy or better, to have "mastered" it.
MASTERY_CORRECT, MASTERY_ACCURACY = 25, 0.9


@dataclass(frozen=True)
class Achievement:
    id: str
    name: str
    description: str
    earned: Callable[[QuizScore], bool]


def _mastered(score: QuizScore) -> bool:
    return any(
        correct >= MASTERY_CORRECT and correct / answered >= MASTERY_ACCURACY
        for correct, answered in score.categories.values()
        if answered
    )


ACHIEVEMENTS: tuple[Achievement, ...] = (
    Achievement("first-correct", N_("First step"), N_("a first correct answer"), lambda s: s.correct >= 1),
    Achievement(
        "streak-10", N_("Ten in a row"), N_("10 correct answers in a row"), lambda s: s.best_streak >= 10
    ),
    Achievement(
        "streak-25",
        N_("Twenty-five in a row"),
        N_("25 correct answers in a row"),
        lambda s: s.best_streak >= 25,
    ),
    Achievement("answers-100", N_("Devoted"), N_("100 questions answered"), lambda s: s.answered >= 100),
    Achievement("points-1000", N_("A thousand points"), N_("1,000 points"), lambda s: s.points >= 1000),
    Achievement(
        "category-mastered",
        N_("Mastery"),
        f"{MASTERY_CORRECT} correct in one category at {MASTERY_ACCURACY:.0%} accuracy or better",
        _mastered,
    ),
)
BY_ID = {a.id: a for a in ACHIEVEMENTS}


def newly_earned(score: QuizScore) -> list[Achievement]:
    """Achievements the record qualifies for and has not been given yet (they are not added here)."""
    return [a for a in ACHIEVEMENTS if a.id not in score.achievements and a.earned(score)]
