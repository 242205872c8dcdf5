"""Unix-time intervals cut into the guild's local clock hours, so time lands on the right hour and day.

Cutting by offset arithmetic alone goes wrong where the offset changes (daylight saving time), and
stepping by 3600 s from midnight goes wrong in zones offset by 30 or 45 minutes; so each piece ends at
the next local hour boundary or the next offset change, whichever comes first.
"""

from __future__ import annotations

import datetime
import math

HOUR = 3600


def split_by_local_hour(start: float, end: float, tz: datetime.tzinfo) -> list[tuple[str, int, float]]:
    """[start, end) as (local ISO date, local hour 0–23, seconds) pieces, in order; [] if end <= start.

    The hour repeated when clocks go back gives two pieces with the same date and hour; the hour
    skipped when they go forward gives none."""
    pieces: list[tuple[str, int, float]] = []
    t = start
    while t < end:
        local = datetime.datetime.fromtimestamp(t, tz)
        offset = _offset(local)
        # The next instant the local clock shows :00:00 (on this offset).
        stop = min(t + (HOUR - (t + offset) % HOUR), end)
        stop = _first_offset_change(t, stop, offset, tz)
        if stop <= t:  # float rounding at a boundary: never loop in place
            stop = min(math.nextafter(t, math.inf), end)
        pieces.append((local.date().isoformat(), local.hour, stop - t))
        t = stop
    return pieces


def _offset(local: datetime.datetime) -> float:
    utcoffset = local.utcoffset()
    return 0.0 if utcoffset is None else utcoffset.total_seconds()


def _first_offset_change(t: float, stop: float, offset: float, tz: datetime.tzinfo) -> float:
    """When the UTC offset first differs from `offset` in (t, stop], or `stop` if it never does.

    Zones change offset at whole seconds and at most once in an hour, so a bisection to one second
    finds the change."""
    if _offset(datetime.datetime.fromtimestamp(stop, tz)) == offset:
        return stop
    low, high = t, stop
    while high - low > 1:
        middle = (low + high) / 2
        if _offset(datetime.datetime.fromtimestamp(middle, tz)) == offset:
            low = middle
        else:
            high = middle
    change = float(math.floor(high))
    return change if low < change <= high else high
