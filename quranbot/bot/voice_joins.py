"""Voice joins paced to the gateway's command limit, so that starting many guilds is as fast as Discord
allows and no join is lost to a timeout.

Every join (and leave) is one gateway command (op 4), and Discord allows 120 commands a minute per
connection; discord.py keeps 110 of them and, when they are used up, holds the next command until its
60 s window ends (`discord.gateway.GatewayRatelimiter`). A join held there spends its connect timeout
waiting, times out, and its clean-up queues a leave: more commands, later joins. So the bot itself lets
at most JOINS_PER_MINUTE joins and leaves through in any 60 s (a sliding window, stricter than
discord.py's fixed one), leaving the rest of the budget to presence updates and heartbeats; a join
waits here for its turn, and its timeout starts only once it is sent.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Of discord.py's 110 gateway commands a minute, the share voice joins and leaves may use.
JOINS_PER_MINUTE = 100
WINDOW_SECONDS = 60.0


class VoiceJoins:
    """A sliding-window limit on voice joins for one gateway connection (one per bot, or per shard)."""

    def __init__(
        self,
        limit: int = JOINS_PER_MINUTE,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sent: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()
        #: Joins that had to wait for their turn, and the longest wait (seconds): for the log and benches.
        self.waited = 0
        self.longest_wait = 0.0

    def _wait_needed(self) -> float:
        now = self._clock()
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + self.window - now

    async def take(self, commands: int = 1) -> None:
        """Wait until `commands` more gateway voice commands fit in the window, and count them sent."""
        started = self._clock()
        async with self._lock:  # in arrival order: the first guild to ask joins first
            for _ in range(commands):
                while (delay := self._wait_needed()) > 0:
                    await asyncio.sleep(delay)
                self._sent.append(self._clock())
        waited = self._clock() - started
        if waited > 0.5:
            self.waited += 1
            self.longest_wait = max(self.longest_wait, waited)
            log.debug("A voice join waited %.1f s for the gateway's command limit", waited)
