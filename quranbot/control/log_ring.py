"""The bot's recent log lines, kept in memory for `logs` and the `logs` topic of the control socket.

A logging handler, so it sees exactly what the journal sees, after the same redaction of secrets.
Records can come from any thread (the audio thread logs a broken track); `on_line` is called in that
thread and must only hand the line over (the control server queues it on its loop).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

DEFAULT_CAPACITY = 2000


def log_line(record: logging.LogRecord) -> dict[str, Any]:
    return {
        "time": round(record.created, 3),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
    }


def exception_summary(record: logging.LogRecord) -> str:
    """`ValueError: what went wrong`: the last line of the traceback that a `RedactingFilter` scrubbed
    (`exc_text`) when there is one, for an exception's text may hold a secret (a URL with a token)."""
    last = (record.exc_text or "").strip().rsplit("\n", 1)[-1]
    if last:
        return last
    assert record.exc_info is not None and record.exc_info[1] is not None
    return f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"


class LogRing(logging.Handler):
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        super().__init__(logging.DEBUG)
        self._lines: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._guard = threading.Lock()
        self.on_line: Callable[[dict[str, Any]], None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = log_line(record)
            if record.exc_info and record.exc_info[1] is not None:
                line["message"] += f" ({exception_summary(record)})"
        except Exception:  # a bad format string must not break logging for the bot
            self.handleError(record)
            return
        with self._guard:
            self._lines.append(line)
        if self.on_line is not None:
            self.on_line(line)

    def recent(
        self, limit: int = 100, level: int = logging.DEBUG, search: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest `limit` lines at `level` or above (with `search` in them, any case), oldest first."""
        wanted = search.casefold() if search else None
        with self._guard:
            lines = list(self._lines)
        chosen = [
            line
            for line in lines
            if logging.getLevelName(line["level"]) >= level
            and (wanted is None or wanted in line["message"].casefold())
        ]
        return chosen[-limit:] if limit > 0 else []
