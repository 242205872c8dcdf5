"""The figures the bot already keeps, read at scrape time: nothing is pushed from the hot paths.

`collect()` runs on the bot's event loop (the aiohttp handler calls it there), so it reads the players,
the listening tracker, the alert sender and the control server without racing the loop that changes
them. The audio thread's own counters (quranbot/metrics/voice.py) are plain ints read as they stand.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from quranbot.metrics import names
from quranbot.metrics.voice import LATENESS_BUCKETS, RECOVERY_REASONS, VoiceStatsBook

#: The histogram's `le` labels, as prometheus_client writes them ("0.001" … "1.0", "+Inf").
LE_LABELS = (*(repr(bound) for bound in LATENESS_BUCKETS), "+Inf")

if TYPE_CHECKING:
    from quranbot.backup.scheduler import BackupScheduler
    from quranbot.bot.alerting import BotAlerts
    from quranbot.bot.client import QuranBot
    from quranbot.control.server import ControlServer
    from quranbot.store.flusher import PeriodicFlusher


@dataclass
class BotSources:
    """Where each figure lives; what a run does not have (no control socket) is None and left out."""

    bot: QuranBot
    voice: VoiceStatsBook
    alerts: BotAlerts | None = None
    backups: BackupScheduler | None = None
    flusher: PeriodicFlusher | None = None
    control: ControlServer | None = None


def _gauge(spec: names.Metric, value: float | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(spec.name, spec.help, value=value, labels=list(spec.labels) or None)


def _counter(spec: names.Metric, value: float | None = None) -> CounterMetricFamily:
    return CounterMetricFamily(spec.name, spec.help, value=value, labels=list(spec.labels) or None)


class BotCollector(Collector):
    def __init__(self, sources: BotSources) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        yield from self._gateway()
        yield from self._voice()
        yield from self._listening()
        yield from self._upkeep()

    def _gateway(self) -> Iterator[Metric]:
        bot = self.sources.bot
        ws = None if bot.is_closed() else getattr(bot, "ws", None)
        up = bot.is_ready() and ws is not None and bool(getattr(ws, "open", False))
        yield _gauge(names.GATEWAY_UP, float(up))
        if math.isfinite(bot.latency):  # inf (or nan) until the first heartbeat is acknowledged
            yield _gauge(names.GATEWAY_LATENCY, bot.latency)
        yield _gauge(names.GUILDS, len(bot.guilds))

    def _voice(self) -> Iterator[Metric]:
        connected = _gauge(names.VOICE_CONNECTED)
        for guild_id, player in sorted(self.sources.bot.guild_players().items()):
            connected.add_metric([str(guild_id)], float(player.in_channel()))
        yield connected
        frames, recoveries = _counter(names.FRAMES_SENT), _counter(names.RECOVERIES)
        spec = names.FRAME_LATENESS
        lateness = HistogramMetricFamily(spec.name, spec.help, labels=list(spec.labels))
        for guild_id, stats in self.sources.voice.items():
            guild = str(guild_id)
            frames.add_metric([guild], stats.frames)
            counts = list(stats.late_counts)  # one snapshot: the audio thread keeps adding
            cumulative, buckets = 0, []
            for label, count in zip(LE_LABELS, counts, strict=True):
                cumulative += count
                buckets.append((label, float(cumulative)))
            lateness.add_metric([guild], buckets, sum_value=stats.late_sum)
            for reason in RECOVERY_REASONS:
                recoveries.add_metric([guild, reason], stats.recoveries[reason])
        yield from (frames, lateness, recoveries)

    def _listening(self) -> Iterator[Metric]:
        bot = self.sources.bot
        tracker = bot.listening
        present = Counter(guild_id for guild_id, _ in tracker.present_since)
        listeners = _gauge(names.LISTENERS)
        for guild_id in sorted(set(bot.guild_players()) | set(present)):
            listeners.add_metric([str(guild_id)], present[guild_id])
        yield listeners
        seconds = _counter(names.LISTENING_SECONDS)
        for guild_id, total in sorted(tracker.counted_seconds.items()):
            seconds.add_metric([str(guild_id)], total)
        yield seconds

    def _upkeep(self) -> Iterator[Metric]:
        sources = self.sources
        if sources.alerts is not None:
            sender = sources.alerts.sender
            yield _counter(names.ALERT_MESSAGES, 0 if sender is None else sender.delivered)
            yield _counter(names.ALERTS_DROPPED, 0 if sender is None else sender.dropped)
            yield _counter(names.ALERTS_SUPPRESSED, sources.alerts.queue.turned_away_total)
        if sources.backups is not None and sources.backups.last_backup is not None:
            yield _gauge(names.LAST_BACKUP, sources.backups.last_backup.created.timestamp())
        if sources.flusher is not None:
            yield _counter(names.FLUSH_FAILURES, sources.flusher.failures)
        if sources.control is not None:
            yield _gauge(names.CONTROL_CLIENTS, len(sources.control.connections))


class ProcessFigures(ProcessCollector):
    """prometheus_client's process collector, whose boot time does not need `/proc/stat`.

    The systemd unit's `ProcSubset=pid` hides `/proc/stat`; prometheus_client reads the boot time
    there once and, without it, exports no `process_*` metric at all, silently. CLOCK_BOOTTIME gives the
    same boot time (to the millisecond) from a system call instead, hidden or not.
    """

    def _boot_time(self) -> float:
        return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
