"""Achievements a member earns by listening: each a rule over the member's record and today's date.

Days are the guild's local dates, as in the record's `daily`; so a streak survives a member listening
at 23:50 one day and 00:10 the next, and breaks on a day with no listening at all.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from quranbot.i18n.catalog import N_, Phrase
from quranbot.store.records import ListeningStats

HOUR = 3600
#: Days in a row, each with some listening, for "full-week".
WEEK = 7


@dataclass(frozen=True)
class Achievement:
    id: str
    name: str
    #: Said in the reader's language (`description.said_in(text)`); it may carry a figure.
    description: Phrase
    earned: Callable[[ListeningStats, datetime.date], bool]


def day_streak(daily: Mapping[str, float], today: datetime.date) -> int:
    """Days in a row with listening, ending today, or yesterday if there has been none yet today (so
    a streak does not look broken in the morning)."""
    day = today if daily.get(today.isoformat(), 0) > 0 else today - datetime.timedelta(days=1)
    streak = 0
    while daily.get(day.isoformat(), 0) > 0:
        streak += 1
        day -= datetime.timedelta(days=1)
    return streak


def _full_week(stats: ListeningStats, today: datetime.date) -> bool:
    """Any WEEK days in a row with listening, ending on any day the record has (not only today)."""
    return any(
        day_streak(stats.daily, datetime.date.fromisoformat(day)) >= WEEK
        for day, seconds in stats.daily.items()
        if seconds > 0
    )


ACHIEVEMENTS: tuple[Achievement, ...] = (
    Achievement(
        "listened-1h", N_("First hour"), Phrase.of("an hour of listening"), lambda s, _: s.seconds >= HOUR
    ),
    Achievement(
        "listened-10h",
        N_("Ten hours"),
        Phrase.of("10 hours of listening"),
        lambda s, _: s.seconds >= 10 * HOUR,
    ),
    Achievement(
        "listened-100h",
        N_("A hundred hours"),
        Phrase.of("100 hours of listening"),
        lambda s, _: s.seconds >= 100 * HOUR,
    ),
    Achievement(
        "full-week", N_("A full week"), Phrase.of("listened on {days} days in a row", days=WEEK), _full_week
    ),
    Achievement(
        "first-surah",
        N_("A whole surah"),
        Phrase.of("heard a surah in full"),
        lambda s, _: s.surahs_completed >= 1,
    ),
    Achievement(
        "first-khatm", N_("Khatm"), Phrase.of("heard all 114 surahs in full"), lambda s, _: s.khatms >= 1
    ),
)
BY_ID = {a.id: a for a in ACHIEVEMENTS}


def earn(stats: ListeningStats, today: datetime.date) -> list[Achievement]:
    """Give the member the achievements they now qualify for (added to the record, in order) and return
    them; those already given are not given again."""
    new = [a for a in ACHIEVEMENTS if a.id not in stats.achievements and a.earned(stats, today)]
    stats.achievements.extend(a.id for a in new)
    return new
