"""The listening leaderboard: members ranked by whole seconds heard in a period (quranbot/ranking.py)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from quranbot.ranking import Period, Ranked, period_start, rank_totals
from quranbot.store.records import ListeningStats


def period_seconds(stats: ListeningStats, start: datetime.date | None) -> int:
    """Whole seconds heard from `start` on (local dates), or in all if None; rounded, so the float sums
    of many short intervals do not lose a second."""
    if start is None:
        return round(stats.seconds)
    first = start.isoformat()
    return round(sum(s for day, s in stats.daily.items() if day >= first))


def rank(stats: Iterable[ListeningStats], period: Period, today: datetime.date) -> list[Ranked]:
    """Everyone who listened in the period, most first; `Ranked.points` holds their whole seconds."""
    start = period_start(period, today)
    return rank_totals((s.user_id, period_seconds(s, start)) for s in stats)
