"""One answer applied to a member's quiz record: counts, streaks, categories, daily points, achievements.

Daily points are kept for `DAILY_DAYS` days (the week and month leaderboards need far fewer); older
days are dropped, their points stay in the total. So a member's record stays a few kilobytes however
many years they play.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from quranbot.quiz.achievements import Achievement, newly_earned
from quranbot.quiz.leaderboard import rank
from quranbot.quiz.question import Question
from quranbot.quiz.scoring import points
from quranbot.store.records import QuizScore

DAILY_DAYS = 400
#: Quiz ids remembered per member (a reveal is never repeated further back than the last one).
RECENT_QUIZZES = 20


@dataclass(frozen=True)
class AnswerResult:
    user_id: int
    choice: int
    seconds: float
    correct: bool
    points: int
    streak: int
    earned: tuple[Achievement, ...]


def already_scored(score: QuizScore, quiz_id: int) -> bool:
    return quiz_id in score.recent_quizzes


def apply_answer(
    score: QuizScore,
    quiz_id: int,
    question: Question,
    choice: int,
    seconds: float,
    today: datetime.date,
    now: float,
) -> AnswerResult:
    """Score one answer into `score` (changed in place) and say what it earned.

    A quiz already scored into this record (a reveal repeated after a crash) changes nothing."""
    correct = choice == question.answer
    if already_scored(score, quiz_id):
        return AnswerResult(score.user_id, choice, seconds, correct, 0, score.streak, ())
    score.recent_quizzes = [*score.recent_quizzes, quiz_id][-RECENT_QUIZZES:]
    earned_points = points(question.difficulty, seconds, score.streak, correct)
    score.answered += 1
    score.points += earned_points
    tally = score.categories.setdefault(question.category, [0, 0])
    tally[1] += 1
    if correct:
        score.correct += 1
        tally[0] += 1
        score.streak += 1
        score.best_streak = max(score.best_streak, score.streak)
    else:
        score.streak = 0
    day = today.isoformat()
    score.daily[day] = score.daily.get(day, 0) + earned_points
    oldest = (today - datetime.timedelta(days=DAILY_DAYS - 1)).isoformat()
    for stale in [d for d in score.daily if d < oldest]:
        del score.daily[stale]
    score.last_activity = now
    earned = newly_earned(score)
    score.achievements.extend(a.id for a in earned)
    return AnswerResult(score.user_id, choice, seconds, correct, earned_points, score.streak, tuple(earned))


def accuracy(score: QuizScore) -> float:
    return score.correct / score.answered if score.answered else 0.0


def guild_summary(scores: list[QuizScore]) -> dict[str, object]:
    """A server's quiz players at a glance (ranked as the leaderboard ranks them, all time)."""
    players = [s for s in scores if s.answered]
    answered = sum(s.answered for s in players)
    correct = sum(s.correct for s in players)
    ranked = rank(players, "all", datetime.date.today())
    by_id = {s.user_id: s for s in players}
    return {
        "players": len(players),
        "answers": answered,
        "accuracy": round(correct / answered, 3) if answered else None,
        "top": [
            {
                "rank": r.rank,
                "user_id": str(r.user_id),
                "points": r.points,
                "answered": by_id[r.user_id].answered,
                "best_streak": by_id[r.user_id].best_streak,
            }
            for r in ranked[:5]
        ],
    }
