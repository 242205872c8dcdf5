"""Per-guild voice figures the audio thread keeps in plain counters, read by the collector at scrape time.

The bot's pacer (audio/pacer.py) sends each guild's packet through its `VoiceStream` every 20 ms, so the
time between two sends is the time between two packets on the wire. A `FrameClock` per stream stamps
each send (one `perf_counter()`, a compare, a list increment: no lock, no prometheus call on the audio
thread) and files how much later than 20 ms after the previous frame it came, into fixed buckets.
That is the gap a listener's jitter buffer has to cover, the figure bench/playback.py calls "late".

These figures live per guild here, not in the `GuildPlayer`, so they survive a player replaced by
`/setup` (a Prometheus counter should only reset when the process does). Nothing here imports
prometheus_client: the collector turns them into metric families.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from dataclasses import dataclass, field

FRAME_SECONDS = 0.020
#: Upper bounds (seconds late) of the lateness buckets; the last, +Inf, is implied. Below 1 ms is on
#: time (a sleep's wake-up); 20 ms late is one frame's worth, which a jitter buffer may no longer hide.
LATENESS_BUCKETS: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.1, 0.25, 0.5, 1.0)
#: Why the watchdog rejoined voice (GuildPlayer's diagnosis), as bounded label values.
RECOVERY_REASONS = ("disconnected", "dropped", "moved", "stalled")


@dataclass
class VoiceStats:
    """One guild's frames sent, their lateness (per bucket, not cumulative) and its voice recoveries."""

    frames: int = 0
    #: Frames per lateness bucket: index i counts frames late by at most LATENESS_BUCKETS[i]; the last
    #: slot counts the rest.
    late_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENESS_BUCKETS) + 1))
    late_sum: float = 0.0
    recoveries: Counter[str] = field(default_factory=Counter)

    def clock(self) -> FrameClock:
        return FrameClock(self)


class FrameClock:
    """One stream's stamps; `rebase()` when audio starts again (after a pause, idle time, a reconnect)."""

    __slots__ = ("_last", "_stats")

    def __init__(self, stats: VoiceStats) -> None:
        self._stats = stats
        self._last: float | None = None

    def tick(self) -> None:
        """A frame goes out now (called on the pacer's thread, every 20 ms)."""
        now = time.perf_counter()
        last, self._last = self._last, now
        stats = self._stats
        stats.frames += 1
        if last is None:
            return
        late = now - last - FRAME_SECONDS
        if late <= LATENESS_BUCKETS[0]:
            stats.late_counts[0] += 1
            if late > 0:
                stats.late_sum += late
            return
        stats.late_counts[bisect.bisect_left(LATENESS_BUCKETS, late)] += 1
        stats.late_sum += late

    def rebase(self) -> None:
        """Audio starts again: the time without it is not lateness, so the next frame has no previous."""
        self._last = None


class VoiceStatsBook:
    """Every guild's `VoiceStats`, made on first use; one per bot (the collector reads it)."""

    def __init__(self) -> None:
        self._by_guild: dict[int, VoiceStats] = {}

    def for_guild(self, guild_id: int) -> VoiceStats:
        stats = self._by_guild.get(guild_id)
        if stats is None:
            stats = self._by_guild[guild_id] = VoiceStats()
        return stats

    def items(self) -> list[tuple[int, VoiceStats]]:
        return sorted(self._by_guild.items())
