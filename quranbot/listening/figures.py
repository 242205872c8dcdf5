"""A member's and a guild's listening as plain figures: what /stats shows, what `quranbot stats --json`
prints and what the CSV export writes, computed once here so they always agree.

Seconds are whole (rounded), user ids are text (Discord's ids outgrow a JavaScript number, as in the
quiz's summary), times are Unix seconds or None for never.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from quranbot.listening import leaderboard
from quranbot.listening.achievements import day_streak
from quranbot.listening.khatm import heard_count
from quranbot.ranking import PERIODS, period_start
from quranbot.store.records import ListeningStats

#: Favourite surahs and reciters shown, and recent sessions.
FAVOURITES, RECENT = 3, 5


def member_figures(
    stats: ListeningStats, today: datetime.date, surah_names: Mapping[int, str] | None = None
) -> dict[str, Any]:
    """One member's figures (JSON-able); `today` is the guild's local date, `surah_names` adds names."""
    sessions = [stats.session] if stats.session else []
    longest = max([stats.longest_session, *(float(s["seconds"]) for s in sessions)])
    return {
        "user_id": str(stats.user_id),
        "seconds": round(stats.seconds),
        "hours": round(stats.seconds / 3600, 1),
        "sessions": stats.sessions,
        "average_session_seconds": round(stats.seconds / stats.sessions) if stats.sessions else 0,
        "longest_session_seconds": round(longest),
        "today_seconds": round(stats.daily.get(today.isoformat(), 0.0)),
        "week_seconds": leaderboard.period_seconds(stats, period_start("week", today)),
        "month_seconds": leaderboard.period_seconds(stats, period_start("month", today)),
        "day_streak": day_streak(stats.daily, today),
        "favourite_surahs": favourite_surahs(stats, surah_names),
        "favourite_reciters": [
            {"reciter": slug, "seconds": round(seconds)}
            for slug, seconds in sorted(stats.reciters.items(), key=lambda kv: (-kv[1], kv[0]))[:FAVOURITES]
        ],
        "peak_hour": peak_hour(stats.hours),
        "heard": list(stats.heard),
        "heard_count": heard_count(stats),
        "khatms": stats.khatms,
        "surahs_completed": stats.surahs_completed,
        "achievements": list(stats.achievements),
        "first_seen": stats.first_seen or None,
        "last_seen": stats.last_seen or None,
        "recent_sessions": [dict(s) for s in stats.recent_sessions[-RECENT:]],
    }


def favourite_surahs(stats: ListeningStats, surah_names: Mapping[int, str] | None) -> list[dict[str, Any]]:
    """The most heard surahs, most first, ties by surah number."""
    ordered = sorted(((-seconds, int(n)) for n, seconds in stats.surahs.items() if seconds > 0))
    favourites: list[dict[str, Any]] = []
    for negative, surah in ordered[:FAVOURITES]:
        entry: dict[str, Any] = {"surah": surah}
        if surah_names is not None and surah in surah_names:
            entry["name"] = surah_names[surah]
        entry["seconds"] = round(-negative)
        favourites.append(entry)
    return favourites


def peak_hour(hours: Sequence[float]) -> int | None:
    """The local hour with the most listening (the earliest of equals), or None before any."""
    if not any(h > 0 for h in hours):
        return None
    return max(range(len(hours)), key=lambda h: (hours[h], -h))


def guild_figures(all_stats: Sequence[ListeningStats], today: datetime.date, top: int) -> dict[str, Any]:
    """One guild's listening at a glance (`all_stats`: its members' records), with the `top` of each
    leaderboard."""
    day = today.isoformat()
    boards = {
        period: [
            {"rank": r.rank, "user_id": str(r.user_id), "seconds": r.points}
            for r in leaderboard.rank(all_stats, period, today)[:top]
        ]
        for period in PERIODS
    }
    return {
        "members": sum(1 for s in all_stats if s.seconds > 0),
        "hours_total": round(sum(s.seconds for s in all_stats) / 3600, 1),
        "hours_today": round(sum(s.daily.get(day, 0.0) for s in all_stats) / 3600, 1),
        "listeners_today": sum(1 for s in all_stats if s.daily.get(day, 0.0) > 0),
        "khatms": sum(s.khatms for s in all_stats),
        "leaderboard": boards,
    }


def duration_parts(seconds: float) -> tuple[int, int]:
    """Whole hours and the whole minutes past them, counted down (the Discord side words them per
    language, quranbot/bot/listening_view.py)."""
    return divmod(max(0, int(seconds)) // 60, 60)


def format_duration(seconds: float) -> str:
    """Listening time for people: "0 min" and "45 min" under an hour, "3 h 05 min" under 100 hours, then
    "123 h". Whole minutes and hours are counted down (never more than was heard), so "1 h 00 min"
    appears only once a full hour is in."""
    hours, minutes = duration_parts(seconds)
    if not hours:
        return f"{minutes} min"
    if hours < 100:
        return f"{hours} h {minutes:02d} min"
    return f"{hours} h"
