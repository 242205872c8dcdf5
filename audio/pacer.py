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

Each tick is served in SLOTS turns, 5 ms apart, every stream in one of them (the emptiest when it is
added): a stream's frame then waits only for the streams in its own slot, not for every stream in the
process, and the work is spread over the 20 ms instead of coming in one burst. At 300 streams a tick
took 9 ms at the median and up to 30 at p99 (the GIL shared with the event loop and the track readers),
so the last streams of one burst went out up to ~20 ms late; a slot is a quarter of that.

Turns are on an absolute schedule (turn k is due at start + k·5 ms), so lateness never accumulates.
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
#: Turns per tick: each stream is served in one of them (see the module's docstring).
SLOTS = 4


class Stream(Protocol):
    def tick(self) -> None:
        """Send this tick's frame (or nothing); must not block."""


class Pacer:
    """Owns one daemon thread while it has streams; `add` and `remove` from any thread."""

    def __init__(
        self,
        *,
        tick_seconds: float = TICK_SECONDS,
        slots: int = SLOTS,
        on_error: Callable[[Stream, BaseException], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.tick_seconds = tick_seconds
        self._on_error = on_error
        self._clock = clock
        self._lock = threading.Lock()
        # Replaced, never mutated: the thread reads it lock-free.
        self._slots: tuple[tuple[Stream, ...], ...] = ((),) * max(1, slots)
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        #: Ticks run (every slot served once), and the worst lateness seen (seconds a turn began after
        #: it was due).
        self.ticks = 0
        self.restarts = 0
        self.max_late = 0.0
        #: Called on the thread after every turn's last frame: work for the event loop waits for it, so
        #: the loop runs while the pacer sleeps rather than between one stream's frame and the next.
        self.after_turn: Callable[[], None] | None = None

    @property
    def streams(self) -> tuple[Stream, ...]:
        return tuple(stream for slot in self._slots for stream in slot)

    def in_turn(self) -> bool:
        """True on the pacer's own thread (a turn is running: a stream's `tick()` or its end)."""
        thread = self._thread
        return thread is not None and thread is threading.current_thread()

    def add(self, stream: Stream) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the pacer is closed")
            if not any(stream in slot for slot in self._slots):
                emptiest = min(range(len(self._slots)), key=lambda index: len(self._slots[index]))
                slots = list(self._slots)
                slots[emptiest] = (*slots[emptiest], stream)
                self._slots = tuple(slots)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audio pacer", daemon=True)
                self._thread.start()
            self._wake.set()

    def remove(self, stream: Stream) -> None:
        """Stop ticking `stream`; a turn already running may still call it once."""
        with self._lock:
            self._slots = tuple(tuple(s for s in slot if s is not stream) for slot in self._slots)

    def close(self, timeout: float = 1.0) -> None:
        """End the thread (after its current turn); the pacer takes no streams after this."""
        with self._lock:
            self._closed = True
            self._slots = ((),) * len(self._slots)
            thread, self._thread = self._thread, None
            self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        clock, count = self._clock, len(self._slots)
        step = self.tick_seconds / count
        start, k = clock(), 0
        while not self._closed:
            slots = self._slots
            if not any(slots):  # idle: sleep until a stream comes, then start a new schedule
                self._wake.wait()
                self._wake.clear()
                start, k = clock(), 0
                continue
            due = start + k * step
            now = clock()
            if now - due > MAX_BEHIND * self.tick_seconds:
                self.restarts += 1
                start, k, due = now, 0, now
            self.max_late = max(self.max_late, now - due)
            for stream in slots[k % count]:
                try:
                    stream.tick()
                except Exception as exc:  # one broken stream must not silence the others
                    self.remove(stream)
                    if self._on_error is not None:
                        self._on_error(stream, exc)
                    else:
                        log.exception("An audio stream failed and was stopped")
            if self.after_turn is not None:
                try:
                    self.after_turn()
                except Exception:  # the next turn still comes
                    log.exception("The pacer's after-tick hook failed")
            for _ in range(count):  # on to the next turn with streams: an empty slot is no wake-up
                k += 1
                if k % count == 0:
                    self.ticks += 1
                if slots[k % count]:
                    break
            delay = start + k * step - clock()
            if delay > 0:
                time.sleep(delay)
