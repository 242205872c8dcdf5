"""Logging for a terminal (Rich) or for systemd (plain lines; journald adds the time stamps).

Every handler carries a `RedactingFilter`, so a secret that reaches a log record anyway is replaced
before it is written.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable

from rich.console import Console
from rich.logging import RichHandler

from quranbot.secret import Secret


class RedactingFilter(logging.Filter):
    """Replaces the text of known secrets in the final message with `********`."""

    def __init__(self, secrets: Iterable[Secret] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Secret) -> None:
        if secret and secret.reveal() not in self._secrets:
            self._secrets.append(secret.reveal())
            # longest first, so a secret that contains another (a webhook URL, its token) goes whole
            self._secrets.sort(key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every known secret replaced (alerts scrub their text and tracebacks with it)."""
        for value in self._secrets:
            text = text.replace(value, "********")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            # An exception's text can hold a secret too (aiohttp puts the request URL in its errors):
            # formatters print `exc_text` when it is set, so it is set here, redacted.
            record.exc_text = self.redact(record.exc_text or _FORMATTER.formatException(record.exc_info))
        return True


_FORMATTER = logging.Formatter()


def under_systemd() -> bool:
    """journald sets JOURNAL_STREAM for services whose output it captures."""
    return "JOURNAL_STREAM" in os.environ


def configure_logging(
    verbose: bool = False,
    redactor: RedactingFilter | None = None,
    console: Console | None = None,
    to_terminal: bool = True,
) -> RedactingFilter:
    """Set up the root logger; returns the filter so secrets learned later can be added.

    Pass the `console` of a Rich live display so log lines print above it instead of through it; pass
    `to_terminal=False` when a full-screen app owns the terminal (the bot's own log ring still gets
    every line, for the TUI's log pane).
    """
    redactor = redactor or RedactingFilter()
    handler: logging.Handler
    if not to_terminal:
        handler = logging.NullHandler()
    elif console is not None or (sys.stderr.isatty() and not under_systemd()):
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=True, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        fmt = (
            "%(levelname)s %(name)s: %(message)s"
            if under_systemd()
            else "%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        logging.getLogger("discord").setLevel(logging.WARNING)
        logging.getLogger("discord.client").setLevel(logging.INFO)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # "Running job ..." every hour
    return redactor
