"""The quiz's leaderboard: members ranked by points in a period (the table rules: quranbot/ranking.py)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from quranbot.ranking import Period, Ranked, period_start, rank_totals
from quranbot.store.records import QuizScore


def period_points(score: QuizScore, start: datetime.date | None) -> int:
    if start is None:
        return score.points
    first = start.isoformat()
    return sum(p for day, p in score.daily.items() if day >= first)


def rank(scores: Iterable[QuizScore], period: Period, today: datetime.date) -> list[Ranked]:
    """Everyone with points in the period, best first."""
    start = period_start(period, today)
    return rank_totals((s.user_id, period_points(s, start)) for s in scores)
