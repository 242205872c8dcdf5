"""System events (started, stopped, voice lost and recovered, a backup restored, ...) are log records with
a marker, so the code that notices them only logs: it needs no alerts object and knows nothing of Discord.
The alert handler (handler.py) turns marked records into `system` alerts at their own level."""

from __future__ import annotations

import logging

from quranbot.alerts.alert import Category

#: The `extra` key that gives a log record an alert category (`system`, `heartbeat`).
ALERT_CATEGORY = "alert_category"


def system_event(logger: logging.Logger, level: int, message: str, *args: object) -> None:
    """Log an event of the bot's life: an ordinary log line, and a `system` alert when alerts are on."""
    logger.log(level, message, *args, extra={ALERT_CATEGORY: Category.SYSTEM.value}, stacklevel=2)


def category_of(record: logging.LogRecord) -> Category | None:
    """The category a record was marked with; None for an unmarked (or wrongly marked) record."""
    marked = record.__dict__.get(ALERT_CATEGORY)
    try:
        return None if marked is None else Category(marked)
    except ValueError:
        return None
