"""Listening statistics as CSV, one row per member per guild, for a spreadsheet: the same figures as
/stats (quranbot/listening/figures.py), with times in ISO 8601 UTC."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterable
from typing import TextIO

from quranbot.listening.figures import member_figures
from quranbot.store.records import ListeningStats

CSV_COLUMNS: tuple[str, ...] = (
    "guild_id",
    "user_id",
    "seconds",
    "sessions",
    "average_session_seconds",
    "longest_session_seconds",
    "today_seconds",
    "week_seconds",
    "month_seconds",
    "day_streak",
    "heard_count",
    "khatms",
    "surahs_completed",
    "peak_hour",
    "first_seen",
    "last_seen",
    "achievements",
)


def write_csv(rows: Iterable[ListeningStats], out: TextIO, today: datetime.date) -> None:
    """A header and one row per record; `today` is the local date the today/week/month columns count
    from. An empty cell means none (no peak hour, never seen)."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for stats in rows:
        figures = member_figures(stats, today)
        writer.writerow(
            {
                **figures,
                "guild_id": stats.guild_id,
                "peak_hour": "" if figures["peak_hour"] is None else figures["peak_hour"],
                "first_seen": _utc(stats.first_seen),
                "last_seen": _utc(stats.last_seen),
                "achievements": " ".join(stats.achievements),
            }
        )


def _utc(unix: float) -> str:
    if not unix:
        return ""
    return datetime.datetime.fromtimestamp(unix, datetime.UTC).isoformat(timespec="seconds")
