"""The logging handler that turns log records into alerts: errors and critical records from anywhere, and
records marked as system events (system_event.py) at any level.

`emit` runs in whatever thread logged (the voice thread, a backup thread, the event loop), so it never
waits: the text is scrubbed of secrets, the alert goes on the bounded queue, and a full queue only counts
it. Records of the alerts package itself are never alerts: a failed delivery would otherwise report
itself, forever.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from quranbot.alerts.alert import ALL_CATEGORIES, Alert, Category, Level
from quranbot.alerts.queue import AlertQueue
from quranbot.alerts.system_event import category_of
from quranbot.log_setup import RedactingFilter

#: The end of a traceback is where the error is; this much of it is kept.
DETAIL_CHARACTERS = 1500
OWN_LOGGERS = "quranbot.alerts"
_TRACEBACKS = logging.Formatter()


class AlertHandler(logging.Handler):
    def __init__(
        self,
        queue: AlertQueue,
        redactor: RedactingFilter,
        min_level: Level = Level.INFO,
        categories: Iterable[Category] = ALL_CATEGORIES,
    ) -> None:
        super().__init__(level=logging.DEBUG)
        self.queue = queue
        self.redactor = redactor
        self.min_level = min_level
        self.categories = frozenset(categories)
        #: Error and critical records seen (alerted or not), for the heartbeat's "errors since".
        self.errors_seen = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            category = category_of(record)
            if record.levelno >= logging.ERROR:
                self.errors_seen += 1
                category = category or Category.ERROR
            if category is None or record.name.startswith(OWN_LOGGERS):
                return
            level = Level.of_record(record.levelno)
            if level < self.min_level or category not in self.categories:
                return
            if not self.queue.has_room():
                self.queue.turn_away()  # the line is in the local log; the count goes in "and N more"
                return
            self.queue.put(self.alert(record, level, category))
        except Exception:
            self.handleError(record)

    def alert(self, record: logging.LogRecord, level: Level, category: Category) -> Alert:
        detail = ""
        if record.exc_info:
            detail = record.exc_text or _TRACEBACKS.formatException(record.exc_info)
        elif record.stack_info:
            detail = record.stack_info
        return Alert(
            level=level,
            category=category,
            source=record.name,
            text=self.redactor.redact(record.getMessage()),
            created=record.created,
            detail=self.redactor.redact(detail)[-DETAIL_CHARACTERS:],  # scrubbed whole, then cut
        )
