"""An alert: one thing the admin should hear about, with its level, its category and the text to show."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass


class Level(enum.IntEnum):
    """How serious an alert is; the values are logging's, so a record's level maps straight across."""

    INFO = logging.INFO
    WARNING = logging.WARNING
    ERROR = logging.ERROR
    CRITICAL = logging.CRITICAL

    @classmethod
    def of_record(cls, levelno: int) -> Level:
        """The alert level of a log record: the highest one not above it."""
        for level in sorted(cls, reverse=True):
            if levelno >= level:
                return level
        return cls.INFO

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def colour(self) -> int:
        """The embed's colour: blue, amber, red, dark red."""
        return LEVEL_COLOURS[self]

    @property
    def pings(self) -> bool:
        """Errors and critical alerts ping the configured admin; the rest are read when convenient."""
        return self >= Level.ERROR


LEVEL_COLOURS = {
    Level.INFO: 0x3498DB,
    Level.WARNING: 0xF1C40F,
    Level.ERROR: 0xE74C3C,
    Level.CRITICAL: 0x992D22,
}


class Category(enum.StrEnum):
    """Where an alert comes from: an error logged anywhere, an event of the bot's life, the daily summary."""

    ERROR = "error"
    SYSTEM = "system"
    HEARTBEAT = "heartbeat"


ALL_CATEGORIES = frozenset(Category)


@dataclass(frozen=True)
class Alert:
    """One alert as it is queued: its text is already scrubbed of secrets."""

    level: Level
    category: Category
    #: Where it came from: the logger's name (`quranbot.backup.scheduler`) or `quranbot alerts test`.
    source: str
    text: str
    #: Unix time it happened (the log record's `created`).
    created: float
    #: A traceback or other detail, shown below the text (scrubbed too); "" if none.
    detail: str = ""
