"""When a guild's scheduled quiz is due: slots on the guild's local clock, and the APScheduler trigger.

Slots start at local midnight in the guild's time zone and repeat every interval through the day
(hourly: 00:00, 01:00, ...), so "every 2 hours" means the same wall-clock times every day, across
daylight-saving changes too. A slot is handled once: its time is written to the store before the
quiz is posted (quranbot/bot/quiz_schedule.py), so a restart never posts it again, and a slot missed
while the bot was down is posted once at start if it is at most `grace()` old, never as a backlog.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger  # type: ignore[import-untyped]

DAY = 24 * 3600
#: A missed slot older than this (or than the interval, if shorter) is skipped, not caught up.
MAX_GRACE_SECONDS = 3600


def _slots_of_day(day: datetime.date, interval: int, tz: ZoneInfo) -> list[datetime.datetime]:
    midnight = datetime.datetime.combine(day, datetime.time(), tzinfo=tz)
    return [
        (midnight.replace(tzinfo=None) + datetime.timedelta(seconds=s)).replace(tzinfo=tz)
        for s in range(0, DAY, interval)
    ]


def latest_slot(now: datetime.datetime, interval: int, tz: ZoneInfo) -> datetime.datetime:
    """The most recent slot at or before `now` (an aware datetime)."""
    today = now.astimezone(tz).date()
    for day in (today, today - datetime.timedelta(days=1)):
        past = [slot for slot in _slots_of_day(day, interval, tz) if slot <= now]
        if past:
            return past[-1]
    raise AssertionError("midnight is always a slot")


def next_slot(now: datetime.datetime, interval: int, tz: ZoneInfo) -> datetime.datetime:
    """The first slot strictly after `now`."""
    today = now.astimezone(tz).date()
    for day in (today, today + datetime.timedelta(days=1)):
        later = [slot for slot in _slots_of_day(day, interval, tz) if slot > now]
        if later:
            return later[0]
    raise AssertionError("tomorrow's midnight is always a slot")


def grace(interval: int) -> int:
    return min(interval, MAX_GRACE_SECONDS)


class SlotTrigger(BaseTrigger):  # type: ignore[misc]
    """APScheduler fires the job at each slot of `interval` seconds on the guild's clock."""

    def __init__(self, interval: int, tz: ZoneInfo) -> None:
        if not 1 <= interval <= DAY:
            raise ValueError(f"a quiz interval must be 1 s to a day, not {interval} s")
        self.interval = interval
        self.tz = tz

    def get_next_fire_time(
        self, previous_fire_time: datetime.datetime | None, now: datetime.datetime
    ) -> datetime.datetime:
        after = max(now, previous_fire_time) if previous_fire_time is not None else now
        if previous_fire_time is None:
            after = now - datetime.timedelta(microseconds=1)  # a slot exactly now is still due
        return next_slot(after, self.interval, self.tz)

    def __str__(self) -> str:
        return f"every {self.interval} s on {self.tz.key}'s clock"
