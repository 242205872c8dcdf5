"""Write the store's buffered values on an interval, and keep going when the disk says no."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from quranbot.store.state import StateStore

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 2.0
DEFAULT_STATISTICS_INTERVAL = 30.0


async def _at_once() -> None:
    return None


class PeriodicFlusher:
    """`await flusher.run()` in a task; cancel it at shutdown, then `store.close()` flushes the rest.

    The position is written every `interval` seconds; listening statistics every `statistics_interval`.
    """

    def __init__(
        self,
        store: StateStore,
        interval: float = DEFAULT_INTERVAL,
        statistics_interval: float = DEFAULT_STATISTICS_INTERVAL,
    ) -> None:
        self.store = store
        self.interval = interval
        self.statistics_interval = statistics_interval
        self.failures = 0
        #: Called just before statistics are written (the bot accrues everyone's listening up to now
        #: there, so a SIGKILL loses at most one statistics interval of it).
        self.before_statistics: Callable[[], None] = lambda: None
        #: Called before every write (the bot saves each guild's exact frame there: the player reports
        #: progress once a second, so without it a SIGKILL could lose that second on top of the interval).
        self.before_flush: Callable[[], None] = lambda: None
        #: Awaited before each part of a periodic flush that holds the GIL for milliseconds (gathering the
        #: positions, encoding and writing): the bot waits there for a gap between the audio pacer's turns.
        self.quiet_moment: Callable[[], Awaitable[None]] = _at_once
        #: Called after each write that succeeded: statistics included or not, and the seconds it took.
        self.after_flush: Callable[[bool, float], None] = lambda statistics, seconds: None
        self._statistics_due = time.monotonic() + statistics_interval

    def flush_once(self) -> bool:
        return self._write(self._gather())

    def _gather(self) -> bool:
        """Everything into the store before a write; True if the statistics are due with it."""
        try:
            self.before_flush()
        except Exception:  # a bug there must not stop the rest from being saved
            log.exception("Saving the positions before the flush failed")
        statistics = time.monotonic() >= self._statistics_due
        if statistics:
            try:
                self.before_statistics()
            except Exception:  # a bug there must not stop the position from being saved
                log.exception("Accruing listening before the statistics flush failed")
        return statistics

    def _write(self, statistics: bool) -> bool:
        if not self.store.dirty:
            return True
        started = time.perf_counter()
        try:
            self.store.flush(statistics=statistics)
        except OSError as exc:
            self.failures += 1
            log.error(
                "Could not save state to %s (%s); the previous files are intact and the changes are kept "
                "in memory until the next try in %.0f s",
                self.store.state_dir, exc.strerror or exc, self.interval,
            )  # fmt: skip
            return False
        self.after_flush(statistics, time.perf_counter() - started)
        if statistics:
            self._statistics_due = self._next_statistics(time.monotonic())
        return True

    def _next_statistics(self, now: float) -> float:
        """The next statistics time on their own fixed grid, as `run` keeps the flushes on theirs:
        counted from the end of this flush instead, a tick arriving a moment before it would skip a
        whole flush interval (statistics every 4 s, not 2, when both intervals are 2 s)."""
        step = self.statistics_interval
        if step <= 0:
            return now
        due = self._statistics_due + step
        if due <= now:  # fell behind (a slow disk): the next grid time ahead, never a burst
            due += ((now - due) // step + 1) * step
        return due

    async def run(self) -> None:
        """Flush every `interval` seconds, counted from the start of the previous flush, not its end:
        a slow flush (a large statistics file, a slow disk) must not push the next position save later,
        or a SIGKILL could lose more than the interval promises."""
        due = time.monotonic() + self.interval
        while True:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            due = max(due + self.interval, time.monotonic())  # behind: once at once, never a burst
            await self.quiet_moment()
            statistics = self._gather()
            await self.quiet_moment()
            self._write(statistics)
