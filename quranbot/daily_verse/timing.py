"""When a guild's daily verse is due: a time of day on the guild's clock, posted once per local day.

"Exactly once" is the local date of the slot, written to the store before the post is made
(quranbot/bot/daily_verse.py): a restart finds it done. A slot missed while the bot was down is made
once when it comes back, if it is at most the grace period old; an older one is skipped, never caught
up as a backlog, because only the latest slot is ever considered.
"""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

_TIME = re.compile(r"\s*([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?\s*")

#: A post missed by at most this long (the bot was down, or the machine asleep) is still made.
DEFAULT_GRACE = datetime.timedelta(hours=6)


def parse_time_of_day(text: str) -> datetime.time:
    """`"07:30"` (or `"7:30"`, `"07:30:15"`): a time of day; a ValueError that says why otherwise."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time of day (HH:MM, 24-hour, such as 07:30)")
    hour, minute, second = (int(part or 0) for part in match.groups())
    return datetime.time(hour, minute, second)


def format_time_of_day(at: datetime.time) -> str:
    return at.strftime("%H:%M:%S" if at.second else "%H:%M")


def slot_on(day: datetime.date, at: datetime.time, tz: ZoneInfo) -> datetime.datetime:
    """The moment of `day`'s post. A time that a spring-forward skips is read with the offset before
    the change (02:30 becomes 03:30); one that an autumn change repeats is its first occurrence."""
    return datetime.datetime.combine(day, at, tzinfo=tz)


def latest_slot(now: datetime.datetime, at: datetime.time, tz: ZoneInfo) -> datetime.datetime:
    """The most recent post moment at or before `now` (an aware datetime): today's or yesterday's."""
    today = now.astimezone(tz).date()
    slot = slot_on(today, at, tz)
    return slot if slot <= now else slot_on(today - datetime.timedelta(days=1), at, tz)


def due_slot(
    now: datetime.datetime,
    at: datetime.time,
    tz: ZoneInfo,
    last_done: str,
    grace: datetime.timedelta = DEFAULT_GRACE,
    not_before: datetime.datetime | None = None,
) -> tuple[datetime.datetime, bool] | None:
    """The slot to handle now, or None when the latest one is already done (`last_done` is the local
    ISO date of the last slot handled) or not after `not_before` (when the channel or time was set: a
    new setting starts with its next time of day). The flag says whether to post (False: too late)."""
    slot = latest_slot(now, at, tz)
    if slot.date().isoformat() <= last_done or (not_before is not None and slot <= not_before):
        return None
    return slot, now - slot <= grace
