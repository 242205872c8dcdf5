"""The daily heartbeat: one line that says the bot is alive and how its day went, so silence from a bot
that should be talking is noticed. Logged as a record marked `heartbeat` (it reaches the alerts like a
system event, and the local log too)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from quranbot.alerts.alert import Category
from quranbot.alerts.system_event import ALERT_CATEGORY


@dataclass(frozen=True)
class HeartbeatFigures:
    uptime_seconds: float
    #: Audio sent since the bot started, summed over its servers.
    recited_seconds: float
    #: Members listening now, over every server.
    listeners: int
    #: Quiz answers today (each server's own day), over every server.
    quiz_answers: int
    #: Error and critical log records since the previous heartbeat (or the start).
    errors: int


def duration(seconds: float) -> str:
    """`3 d 4 h`, `4 h 12 min`, `12 min`: as precise as a daily summary needs."""
    minutes = int(seconds // 60)
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def heartbeat_text(figures: HeartbeatFigures) -> str:
    return (
        f"Up {duration(figures.uptime_seconds)}; recited {figures.recited_seconds / 3600:.1f} h since "
        f"the start; {figures.listeners} listening now; {figures.quiz_answers} quiz answers today; "
        f"{figures.errors} error{'s' if figures.errors != 1 else ''} since the last heartbeat"
    )


def log_heartbeat(logger: logging.Logger, figures: HeartbeatFigures) -> None:
    logger.info("Heartbeat: %s", heartbeat_text(figures), extra={ALERT_CATEGORY: Category.HEARTBEAT.value})
