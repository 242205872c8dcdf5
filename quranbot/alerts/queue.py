"""The bounded queue between the logging handler (any thread) and the sender (the event loop).

`put` never blocks and never grows the queue past its capacity: a full queue turns the alert away and
counts it, and the sender reports the count as "and N more" (the lines themselves stay in the local
log). The sender is woken only when the queue goes from empty to not empty, so a burst of ten thousand
records costs one wake-up, not ten thousand.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from quranbot.alerts.alert import Alert

#: Alerts held for the sender at most; a message shows ten, so this is plenty for "and N more".
DEFAULT_CAPACITY = 200


class AlertQueue:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._items: deque[Alert] = deque()
        self._lock = threading.Lock()
        self._turned_away = 0
        #: Alerts turned away since the start (the count above is since the last take), for /metrics.
        self.turned_away_total = 0
        #: Called (from the putting thread) when the queue stops being empty.
        self.on_ready: Callable[[], None] | None = None

    def has_room(self) -> bool:
        """A hint without the lock, so a full queue costs the handler almost nothing per record."""
        return len(self._items) < self.capacity

    def put(self, alert: Alert) -> bool:
        """Queue `alert`; False (and counted) when the queue is full."""
        with self._lock:
            was_idle = self._idle()
            fits = len(self._items) < self.capacity
            if fits:
                self._items.append(alert)
            else:
                self._turned_away += 1
                self.turned_away_total += 1
        if was_idle:
            self._wake()
        return fits

    def turn_away(self) -> None:
        """Count an alert that did not fit (the caller saw `has_room()` false)."""
        with self._lock:
            was_idle = self._idle()
            self._turned_away += 1
            self.turned_away_total += 1
        if was_idle:
            self._wake()

    def _idle(self) -> bool:
        """Nothing for the sender: the state in which it waits to be woken (call with the lock held)."""
        return not self._items and not self._turned_away

    def _wake(self) -> None:
        if self.on_ready is not None:
            self.on_ready()

    def take(self) -> tuple[list[Alert], int]:
        """Everything queued, oldest first, and how many were turned away since the last take."""
        with self._lock:
            items, self._items = list(self._items), deque()
            turned_away, self._turned_away = self._turned_away, 0
        return items, turned_away

    def pending(self) -> int:
        with self._lock:
            return len(self._items) + self._turned_away
