"""One pacing thread for every stream in the process: on each 20 ms tick it gives every stream its turn
to send one frame.

discord.py runs one audio thread per voice client, each waking every 20 ms on its own with cold caches
(bench/frame_cost.py: 233 us a frame paced that way, 17 us back to back). One thread waking once per
tick for all of them pays the wake-up once and keeps the code and data hot, so a process holds hundreds
of streams where it held about a hundred.

A stream's turn must not wait: the player's `read_frame(wait=False)` answers at once (silence while a
track's reader has nothing ready), so a slow disk in one guild never delays another. A stream that
raises is dropped from the tick, reported, and the others go on. The pacer knows nothing of Discord:
a stream is anything with `tick()` (quranbot/bot/voice_stream.py adapts a voice client).

Ticks are on an absolute schedule (tick k is due at start + k·20 ms), so lateness never accumulates.
When the process falls more than MAX_BEHIND ticks behind (it was stopped, or the machine suspended),
the schedule starts again from now rather than sending the missed frames in a burst.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

TICK_SECONDS = 0.020
#: Behind by more than this many ticks, the schedule restarts from now (no burst of catch-up frames).
MAX_BEHIND = 5


class Stream(Protocol):
    def tick(self) -> None:
        """Send this tick's frame (or nothing); must not block."""


class Pacer:
    """Owns one daemon thread while it has streams; `add` and `remove` from any thread."""

    def __init__(
        self,
        *,
        tick_seconds: float = TICK_SECONDS,
        on_error: Callable[[Stream, BaseException], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.tick_seconds = tick_seconds
        self._on_error = on_error
        self._clock = clock
        self._lock = threading.Lock()
        self._streams: tuple[Stream, ...] = ()  # replaced, never mutated: the thread reads it lock-free
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        #: Ticks run, and the worst lateness seen (seconds a tick began after it was due).
        self.ticks = 0
        self.restarts = 0
        self.max_late = 0.0
        #: Called on the thread after every tick's last frame: work for the event loop waits for it, so
        #: the loop runs while the pacer sleeps rather than between one stream's frame and the next.
        self.after_tick: Callable[[], None] | None = None

    @property
    def streams(self) -> tuple[Stream, ...]:
        return self._streams

    def in_tick(self) -> bool:
        """True on the pacer's own thread (a stream's `tick()` is running)."""
        thread = self._thread
        return thread is not None and thread is threading.current_thread()

    def add(self, stream: Stream) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the pacer is closed")
            if stream not in self._streams:
                self._streams = (*self._streams, stream)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audio pacer", daemon=True)
                self._thread.start()
            self._wake.set()

    def remove(self, stream: Stream) -> None:
        """Stop ticking `stream`; a tick already running may still call it once."""
        with self._lock:
            self._streams = tuple(s for s in self._streams if s is not stream)

    def close(self, timeout: float = 1.0) -> None:
        """End the thread (after its current tick); the pacer takes no streams after this."""
        with self._lock:
            self._closed = True
            self._streams = ()
            thread, self._thread = self._thread, None
            self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        clock, step = self._clock, self.tick_seconds
        start, k = clock(), 0
        while not self._closed:
            streams = self._streams
            if not streams:  # idle: sleep until a stream comes, then start a new schedule
                self._wake.wait()
                self._wake.clear()
                start, k = clock(), 0
                continue
            due = start + k * step
            now = clock()
            if now - due > MAX_BEHIND * step:
                self.restarts += 1
                start, k, due = now, 0, now
            late = max(0.0, now - due)
            self.max_late = max(self.max_late, late)
            for stream in streams:
                try:
                    stream.tick()
                except Exception as exc:  # one broken stream must not silence the others
                    self.remove(stream)
                    if self._on_error is not None:
                        self._on_error(stream, exc)
                    else:
                        log.exception("An audio stream failed and was stopped")
            self.ticks += 1
            if self.after_tick is not None:
                try:
                    self.after_tick()
                except Exception:  # the next tick still comes
                    log.exception("The pacer's after-tick hook failed")
            k += 1
            delay = start + k * step - clock()
            if delay > 0:
                time.sleep(delay)
