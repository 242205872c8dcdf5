"""Player events from the audio pacer's thread reach the event loop once per tick, after its sends.

Each `loop.call_soon_threadsafe()` wakes the loop's thread, which then wants the GIL the pacer gives up
at every packet it sends (the encryption and the `sendto` release it). Woken in the middle of a tick,
the loop's work lands between one guild's packet and the next: at 300 guilds that was 300 wake-ups a
second (a progress event per guild per second) spread over the ticks. Queued here and handed over when
the tick's last packet is out, the loop runs while the pacer sleeps, with one wake-up per tick at most.

A call from any other thread (a command on the loop, a test) is handed over at once: nothing waits for
a tick that may never come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from quranbot.audio.pacer import Pacer

log = logging.getLogger(__name__)


#: The longest `gap()` waits for a turn to end (a pacer whose turns stopped must not hold the loop up).
GAP_WAIT_SECONDS = 0.025

_Batch = list[tuple[Callable[..., None], tuple[Any, ...]]]


class TickHandoff:
    def __init__(self, loop: asyncio.AbstractEventLoop, pacer: Pacer) -> None:
        self._loop = loop
        self._pacer = pacer
        self._lock = threading.Lock()
        self._calls: _Batch = []
        self._gap_waiters: list[asyncio.Future[None]] = []
        pacer.after_turn = self._turn_over

    def call(self, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback(*args)` on the loop: after the current turn if this is the pacer's thread."""
        with self._lock:
            self._calls.append((callback, args))
        if not self._pacer.in_turn():
            self._hand_over(gap=False)

    async def gap(self, timeout: float = GAP_WAIT_SECONDS) -> None:
        """Return just after the pacer's next turn: work of a few milliseconds on the loop (the state
        flush) started then runs while the pacer sleeps (a turn is ~2 ms of every 5 at 300 guilds),
        not beside it, where each frame it sends would hand the GIL to it and wait to get it back. At
        once if the pacer has nothing to send; at most `timeout` later if its turns stop."""
        if not self._pacer.streams:
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        with self._lock:
            self._gap_waiters.append(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, timeout)

    def _turn_over(self) -> None:
        """On the pacer's thread, after each turn's last frame."""
        self._hand_over(gap=True)

    def _hand_over(self, gap: bool) -> None:
        """Hand what is queued to the loop as one batch (one wake-up); later calls wait for the next."""
        with self._lock:
            batch, self._calls = self._calls, []
            waiters: list[asyncio.Future[None]] = []
            if gap:
                waiters, self._gap_waiters = self._gap_waiters, []
        if not batch and not waiters:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the bot is stopping
            self._loop.call_soon_threadsafe(self._run, batch, waiters)

    @staticmethod
    def _run(batch: _Batch, waiters: list[asyncio.Future[None]]) -> None:
        for callback, args in batch:
            try:
                callback(*args)
            except Exception:  # one handler's bug must not drop the other guilds' events
                log.exception("Handling a player event failed")
        for waiter in waiters:
            if not waiter.done():  # (timed out meanwhile)
                waiter.set_result(None)
