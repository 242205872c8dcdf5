"""The bot's log, live: the lines it keeps (already redacted by the bot), a level floor and a search.

Lines are kept here, newest 2,000, so changing the level or the search redraws from memory without
asking the bot. Each line is keyed by (time, logger, message): after a reconnect the bot's history
arrives again, and lines already shown are not shown twice.

The same pane shows the audit trail instead (`u`): who did what, from where, and the result; there
the level button filters by result (any, ok, refused, error) and the search looks at every field.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, RichLog, Static

from quranbot.audit.record import RESULTS, AuditRecord
from quranbot.tui.records import LogEntry

MAX_LINES = 2000
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LEVEL_STYLE = {
    "DEBUG": "dim",
    "INFO": "green",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold red",
}

LogKey = tuple[float, str, str]
AuditKey = tuple[str, str, str | None, str, str]
#: The audit view's result filter, cycled by the level button: None is any result.
AUDIT_RESULTS: tuple[str | None, ...] = (None, *RESULTS)
RESULT_STYLE = {"ok": "green", "refused": "yellow", "error": "bold red"}


def render(entry: LogEntry) -> Text:
    stamp = time.strftime("%H:%M:%S", time.localtime(entry.time))
    short = entry.logger.rsplit(".", 1)[-1]
    return Text.assemble(
        (stamp, "dim"),
        " ",
        (entry.level.ljust(8), LEVEL_STYLE.get(entry.level, "")),
        (short, "cyan"),
        "  ",
        entry.message,
    )


def render_audit(record: AuditRecord) -> Text:
    stamp = record.moment.astimezone().strftime("%H:%M:%S")
    who = record.actor + (f" ({record.actor_id})" if record.actor_id and record.source != "bot" else "")
    what = record.action + "".join(f" {k}={v}" for k, v in record.args.items())
    outcome = record.result + (f": {record.reason}" if record.reason else "")
    where = f"  guild {record.guild_id}" if record.guild_id else ""
    return Text.assemble(
        (stamp, "dim"),
        " ",
        (record.source.ljust(9), "cyan"),
        (who, "bold"),
        "  ",
        what,
        "  ",
        (outcome, RESULT_STYLE.get(record.result, "")),
        (where, "dim"),
    )


def audit_text(record: AuditRecord) -> str:
    """Everything the search looks at."""
    fields = [record.source, record.actor, record.actor_id or "", record.action, record.result, record.reason]
    fields += [record.guild_id or "", *(f"{k}={v}" for k, v in record.args.items())]
    return " ".join(fields).casefold()


class SearchInput(Input):
    """The log search: typing filters at once; Enter or Escape hands the keys back to the controls."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "done", "Done", show=False)]

    def action_done(self) -> None:
        self.screen.set_focus(None)

    def on_input_submitted(self) -> None:
        self.screen.set_focus(None)


class LogPane(Vertical):
    DEFAULT_CSS = """
    LogPane { border: round $primary; height: 1fr; min-height: 6; }
    LogPane #log-bar { height: 1; }
    LogPane #log-level { width: 17; margin-right: 1; }
    LogPane #log-search { width: 1fr; }
    LogPane #log-count { width: auto; padding: 0 1; color: $text-muted; }
    LogPane RichLog { height: 1fr; background: transparent; scrollbar-size-vertical: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: deque[LogEntry] = deque()
        self._keys: set[LogKey] = set()
        self.floor = 0  # index into LEVELS
        self.search = ""
        self._shown = 0
        #: The audit trail (from the bot's `audit` topic), and whether the pane shows it instead.
        self.audit: deque[AuditRecord] = deque()
        self._audit_keys: set[AuditKey] = set()
        self.showing_audit = False
        self.result_filter = 0  # index into AUDIT_RESULTS

    def compose(self) -> ComposeResult:
        with Horizontal(id="log-bar"):
            yield Button(self._level_label(), id="log-level", compact=True, action="screen.log_level")
            yield SearchInput(placeholder="search the log (f)", id="log-search", compact=True)
            yield Static(id="log-count")
        yield RichLog(id="log-lines", max_lines=MAX_LINES, wrap=True, markup=False, highlight=False)

    def on_mount(self) -> None:
        self.border_title = "Log"
        self.query_one("#log-level", Button).can_focus = False
        self.query_one("#log-lines", RichLog).can_focus = False
        self._show_count()

    # -- lines ----------------------------------------------------------------------------------------
    def add(self, entry: LogEntry) -> None:
        key = (entry.time, entry.logger, entry.message)
        if key in self._keys:
            return
        if len(self.entries) >= MAX_LINES:
            old = self.entries.popleft()
            self._keys.discard((old.time, old.logger, old.message))
            self._shown -= self.matches(old)
        self.entries.append(entry)
        self._keys.add(key)
        if self.matches(entry) and not self.showing_audit:
            self._shown += 1
            self._write(self.query_one("#log-lines", RichLog), entry)
        self._show_count()

    def add_audit(self, record: AuditRecord) -> None:
        """One audit record; one already here (sent again after a reconnect) is not shown twice."""
        key = _audit_key(record)
        if key in self._audit_keys:
            return
        if len(self.audit) >= MAX_LINES:
            old = self.audit.popleft()
            self._audit_keys.discard(_audit_key(old))
            self._shown -= self.showing_audit and self.audit_matches(old)
        self.audit.append(record)
        self._audit_keys.add(key)
        if self.showing_audit and self.audit_matches(record):
            self._shown += 1
            self._write(self.query_one("#log-lines", RichLog), record)
        self._show_count()

    def audit_matches(self, record: AuditRecord) -> bool:
        wanted = AUDIT_RESULTS[self.result_filter]
        if wanted is not None and record.result != wanted:
            return False
        return not self.search or self.search.casefold() in audit_text(record)

    def shown_audit(self) -> list[AuditRecord]:
        return [record for record in self.audit if self.audit_matches(record)]

    def note(self, message: str) -> None:
        """A line from the TUI itself (events the bot had to drop), shown like the bot's own."""
        self.add(LogEntry(time.time(), "WARNING", "quranbot.tui", message))

    def matches(self, entry: LogEntry) -> bool:
        if entry.levelno < logging.getLevelName(LEVELS[self.floor]):
            return False
        wanted = self.search.casefold()
        return not wanted or wanted in entry.message.casefold() or wanted in entry.logger.casefold()

    def shown(self) -> list[LogEntry]:
        return [entry for entry in self.entries if self.matches(entry)]

    # -- filters --------------------------------------------------------------------------------------
    def cycle_level(self) -> None:
        """The log's level floor; in the audit view, the result shown."""
        if self.showing_audit:
            self.result_filter = (self.result_filter + 1) % len(AUDIT_RESULTS)
        else:
            self.floor = (self.floor + 1) % len(LEVELS)
        self.query_one("#log-level", Button).label = self._level_label()
        self._redraw()

    def toggle_audit(self) -> None:
        """Show the audit trail instead of the log, or the log again (each keeps its own filter)."""
        self.showing_audit = not self.showing_audit
        self.border_title = "Audit trail" if self.showing_audit else "Log"
        self.query_one("#log-level", Button).label = self._level_label()
        self.query_one("#log-search", Input).placeholder = (
            "search the audit trail (f)" if self.showing_audit else "search the log (f)"
        )
        self._redraw()

    def focus_search(self) -> None:
        self.query_one("#log-search", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search = event.value.strip()
        self._redraw()

    def _level_label(self) -> str:
        if self.showing_audit:
            return f"Result: {AUDIT_RESULTS[self.result_filter] or 'any'}"
        return f"Level ≥ {LEVELS[self.floor]}"

    def _redraw(self) -> None:
        lines = self.query_one("#log-lines", RichLog)
        lines.clear()
        shown: list[LogEntry] | list[AuditRecord] = self.shown_audit() if self.showing_audit else self.shown()
        for entry in shown:
            self._write(lines, entry)
        self._shown = len(shown)
        self._show_count()

    def _write(self, lines: RichLog, entry: LogEntry | AuditRecord) -> None:
        """Wrapped at the pane's width (RichLog would wrap at the console's; 0 = not laid out yet)."""
        text = render_audit(entry) if isinstance(entry, AuditRecord) else render(entry)
        lines.write(text, width=lines.scrollable_content_region.width or None)

    def on_resize(self) -> None:
        self._redraw()  # wrap again at the new width

    def _show_count(self) -> None:
        count = self.query_one("#log-count", Static)
        if self.showing_audit:
            text = f"{self._shown} of {len(self.audit)} records"
        else:
            text = f"{self._shown} of {len(self.entries)} lines"
        if str(count.content) != text:
            count.update(text, layout=len(text) != len(str(count.content)))  # its width is its text


def _audit_key(record: AuditRecord) -> AuditKey:
    return (record.time, record.source, record.actor_id, record.action, record.result)
