"""How many points an answer earns: the design's formula, with one deliberate change.

For a correct answer:

    int(10 × {beginner 1.0, intermediate 1.5, advanced 2.0}
        + max(0, 30 − seconds) / 30 × 5
        + min(streak × 2, 20))

`seconds` is the time from the question being posted to the member's click, and `streak` is the
member's run of correct answers *before* this one (the run this answer extends): a first correct
answer earns no streak bonus, the eleventh in a row the full 20. The speed window is 30 s whatever
the guild's deadline. A wrong answer scores 0 and resets the streak; the original bot also paid a
wrong answer its speed and streak bonus, which rewarded guessing fast.
"""

from __future__ import annotations

from quranbot.quiz.question import Difficulty

MULTIPLIERS: dict[Difficulty, float] = {"beginner": 1.0, "intermediate": 1.5, "advanced": 2.0}
BASE_POINTS = 10
SPEED_WINDOW = 30.0
SPEED_POINTS = 5
STREAK_POINTS, STREAK_CAP = 2, 20


def points(difficulty: Difficulty, seconds: float, streak_before: int, correct: bool) -> int:
    """The points one answer earns (0 for a wrong one)."""
    if not correct:
        return 0
    speed = max(0.0, SPEED_WINDOW - max(0.0, seconds)) / SPEED_WINDOW * SPEED_POINTS
    streak = min(max(0, streak_before) * STREAK_POINTS, STREAK_CAP)
    return int(BASE_POINTS * MULTIPLIERS[difficulty] + speed + streak)
