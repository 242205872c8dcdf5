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


class TickHandoff:
    def __init__(self, loop: asyncio.AbstractEventLoop, pacer: Pacer) -> None:
        self._loop = loop
        self._pacer = pacer
        self._lock = threading.Lock()
        self._calls: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        pacer.after_tick = self.release

    def call(self, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback(*args)` on the loop: after the current tick if this is the pacer's thread."""
        with self._lock:
            self._calls.append((callback, args))
        if not self._pacer.in_tick():
            self.release()

    def release(self) -> None:
        """Hand what is queued to the loop as one batch (one wake-up); later calls wait for the next."""
        with self._lock:
            if not self._calls:
                return
            batch, self._calls = self._calls, []
        with contextlib.suppress(RuntimeError):  # the loop has closed: the bot is stopping
            self._loop.call_soon_threadsafe(self._run, batch)

    @staticmethod
    def _run(batch: list[tuple[Callable[..., None], tuple[Any, ...]]]) -> None:
        for callback, args in batch:
            try:
                callback(*args)
            except Exception:  # one handler's bug must not drop the other guilds' events
                log.exception("Handling a player event failed")
