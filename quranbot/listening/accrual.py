"""Listening time added to a member's record: totals, per reciter, surah, hour and day, and sessions.

The bot calls `accrue` every few seconds for each member listening, with the interval just heard.
Daily seconds are kept for `DAILY_DAYS` local dates (the week and month boards and the 7-day streak
need no more) and `SESSION_LIMIT` sessions, so a record stays small however long a member listens.
Seconds stay floats: rounding every few seconds would lose minutes a day.
"""

from __future__ import annotations

import datetime
from typing import Any

from quranbot.listening.calendar import split_by_local_hour
from quranbot.store.records import ListeningStats

DAILY_DAYS = 35
SESSION_LIMIT = 20


def open_session(stats: ListeningStats, now: float) -> None:
    """A member joins the channel: a new session (any session left open is closed first)."""
    close_session(stats)
    stats.session = {"start": now, "end": now, "seconds": 0.0, "reciters": [], "surahs": []}
    stats.sessions += 1
    if not stats.first_seen:
        stats.first_seen = now


def close_session(stats: ListeningStats) -> None:
    """A member leaves: the open session, if any, joins the recent ones.

    A join that never heard a second is not a session: it is dropped and not counted (and if the
    member has never heard a second at all, first_seen goes back to 0)."""
    session = stats.session
    if session is None:
        return
    stats.session = None
    seconds = float(session["seconds"])
    if seconds > 0:
        stats.recent_sessions = [*stats.recent_sessions, session][-SESSION_LIMIT:]
        stats.longest_session = max(stats.longest_session, seconds)
        return
    stats.sessions = max(0, stats.sessions - 1)
    if stats.seconds <= 0:
        stats.first_seen = 0.0


def accrue(
    stats: ListeningStats,
    start: float,
    end: float,
    *,
    tz: datetime.tzinfo,
    reciter: str | None,
    surah: int | None,
) -> None:
    """Count [start, end) as heard, on the reciter and surah playing (None: nothing to credit them).

    An interval of no length or less (the wall clock stepped backwards) adds nothing. With no session
    open, one opens at `start`."""
    seconds = end - start
    if seconds <= 0:
        return
    stats.seconds += seconds
    if reciter is not None:
        stats.reciters[reciter] = stats.reciters.get(reciter, 0.0) + seconds
    if surah is not None:
        key = str(surah)
        stats.surahs[key] = stats.surahs.get(key, 0.0) + seconds
    if len(stats.hours) != 24:
        stats.hours = [0.0] * 24
    new_day = False
    for day, hour, piece in split_by_local_hour(start, end, tz):
        stats.hours[hour] += piece
        if day in stats.daily:
            stats.daily[day] += piece
        else:
            stats.daily[day] = piece
            new_day = True
    if new_day:
        _prune_daily(stats.daily)
    if stats.session is None:
        open_session(stats, start)
    _add_to_session(stats.session, end, seconds, reciter, surah)
    stats.last_seen = end
    if not stats.first_seen:
        stats.first_seen = start


def _add_to_session(
    session: dict[str, Any] | None, end: float, seconds: float, reciter: str | None, surah: int | None
) -> None:
    assert session is not None  # opened just before, if it was not
    session["seconds"] = float(session["seconds"]) + seconds
    session["end"] = end
    if reciter is not None and reciter not in session["reciters"]:
        session["reciters"].append(reciter)
    if surah is not None and surah not in session["surahs"]:
        session["surahs"].append(surah)


def _prune_daily(daily: dict[str, float]) -> None:
    """Keep the last DAILY_DAYS local dates, counting back from the newest one in `daily`."""
    newest = datetime.date.fromisoformat(max(daily))
    oldest = (newest - datetime.timedelta(days=DAILY_DAYS - 1)).isoformat()
    for stale in [day for day in daily if day < oldest]:
        del daily[stale]
