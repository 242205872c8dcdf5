"""One bot's metrics: its own `CollectorRegistry` (never prometheus_client's global one, so two bots in
one process, as in the tests, never share a figure), the scrape-time collectors, and the few counters
that follow events: commands from the audit trail, quiz answers at the reveal, store flush durations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from prometheus_client import CollectorRegistry, Counter, Histogram, Info
from prometheus_client.platform_collector import PlatformCollector

from quranbot import __version__
from quranbot.metrics import names
from quranbot.metrics.collector import BotCollector, BotSources, ProcessFigures

if TYPE_CHECKING:
    from quranbot.audit.record import AuditRecord
    from quranbot.audit.writer import AuditLog


class BotMetrics:
    def __init__(self, sources: BotSources) -> None:
        self.sources = sources
        self.registry = CollectorRegistry()
        ProcessFigures(registry=self.registry)
        PlatformCollector(registry=self.registry)
        Info(names.BUILD.name, names.BUILD.help, registry=self.registry).info(
            {"version": __version__, "discordpy_version": discord.__version__}
        )
        self.registry.register(BotCollector(sources))
        self.commands = Counter(
            names.COMMANDS.name, names.COMMANDS.help, list(names.COMMANDS.labels), registry=self.registry
        )
        self.quiz_answers = Counter(
            names.QUIZ_ANSWERS.name,
            names.QUIZ_ANSWERS.help,
            list(names.QUIZ_ANSWERS.labels),
            registry=self.registry,
        )
        for result in names.QUIZ_RESULTS:  # present at 0 from the start, so rate() and alerts see them
            self.quiz_answers.labels(result)
        self.flush_duration = Histogram(
            names.FLUSH_DURATION.name,
            names.FLUSH_DURATION.help,
            list(names.FLUSH_DURATION.labels),
            buckets=names.FLUSH_BUCKETS,
            registry=self.registry,
        )
        for kind in names.FLUSH_KINDS:
            self.flush_duration.labels(kind)
        self._audit: AuditLog | None = None

    # -- events -------------------------------------------------------------------------------------------
    def attach(self, audit: AuditLog) -> None:
        """Follow the audit trail, the quiz's reveals and the flusher (on the bot's loop)."""
        self._audit = audit
        audit.listeners.append(self.on_audit_record)
        self.sources.bot.add_listener(self.on_quiz_event, "on_quiz_event")
        if self.sources.flusher is not None:
            self.sources.flusher.after_flush = self.on_flush

    def detach(self) -> None:
        if self._audit is not None:
            self._audit.listeners.remove(self.on_audit_record)
            self._audit = None
        self.sources.bot.remove_listener(self.on_quiz_event, "on_quiz_event")

    def on_audit_record(self, record: AuditRecord) -> None:
        """Every command is on the audit trail once, with its outcome (quranbot/bot/audit_trail.py)."""
        if record.source in names.COMMAND_SOURCES:
            self.commands.labels(record.source, record.action, record.result).inc()

    async def on_quiz_event(self, event: dict[str, Any]) -> None:
        if event.get("event") == "revealed":
            answers, correct = int(event.get("answers", 0)), int(event.get("correct", 0))
            self.quiz_answers.labels("correct").inc(correct)
            self.quiz_answers.labels("wrong").inc(answers - correct)

    def on_flush(self, statistics: bool, seconds: float) -> None:
        self.flush_duration.labels("statistics" if statistics else "position").observe(seconds)
