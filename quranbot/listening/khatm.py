"""Surahs heard in full, towards a khatm (all 114), and the progress bar that shows how far a member is.

Which members heard a surah in full is decided in quranbot/listening/audience.py; this is what the
credit does to their record.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from quranbot.audio.player import SURAH_COUNT
from quranbot.store.records import ListeningStats

#: The progress bar's shape: 6 lines of 19 cells (6 × 19 = 114).
BAR_LINES, BAR_WIDTH = 6, 19
HEARD_CELL, UNHEARD_CELL = "▰", "▱"


def credit_surah(stats: ListeningStats, surah: int) -> bool:
    """The member heard `surah` in full; True if that completed a khatm (and a new one begins)."""
    if not 1 <= surah <= SURAH_COUNT:
        raise ValueError(f"Surah {surah} does not exist: 1–{SURAH_COUNT}")
    stats.surahs_completed += 1
    index = bisect.bisect_left(stats.heard, surah)
    if index == len(stats.heard) or stats.heard[index] != surah:
        stats.heard.insert(index, surah)
    if len(stats.heard) < SURAH_COUNT:
        return False
    stats.khatms += 1
    stats.heard = []
    return True


def heard_count(stats: ListeningStats) -> int:
    """Surahs heard in full towards the current khatm."""
    return len(stats.heard)


def progress_bar(heard: Iterable[int]) -> str:
    """The khatm as 114 cells, "▰" heard and "▱" not, in 6 lines of 19: surahs 1–19 on the first line,
    20–38 on the second, and so on to 96–114. Nothing else is on the lines (no numbers, no padding), so
    it fits a Discord embed field and a terminal alike."""
    done = set(heard)
    cells = [HEARD_CELL if n in done else UNHEARD_CELL for n in range(1, SURAH_COUNT + 1)]
    return "\n".join("".join(cells[i : i + BAR_WIDTH]) for i in range(0, SURAH_COUNT, BAR_WIDTH))
