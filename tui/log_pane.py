"""The bot's log, live: the lines it keeps (already redacted by the bot), a level floor and a search.

Lines are kept here, newest 2,000, so changing the level or the search redraws from memory without
asking the bot. Each line is keyed by (time, logger, message): after a reconnect the bot's history
arrives again, and lines already shown are not shown twice.
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
        if self.matches(entry):
            self._shown += 1
            self._write(self.query_one("#log-lines", RichLog), entry)
        self._show_count()

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
        self.floor = (self.floor + 1) % len(LEVELS)
        self.query_one("#log-level", Button).label = self._level_label()
        self._redraw()

    def focus_search(self) -> None:
        self.query_one("#log-search", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search = event.value.strip()
        self._redraw()

    def _level_label(self) -> str:
        return f"Level ≥ {LEVELS[self.floor]}"

    def _redraw(self) -> None:
        lines = self.query_one("#log-lines", RichLog)
        lines.clear()
        shown = self.shown()
        for entry in shown:
            self._write(lines, entry)
        self._shown = len(shown)
        self._show_count()

    def _write(self, lines: RichLog, entry: LogEntry) -> None:
        """Wrapped at the pane's width (RichLog would wrap at the console's; 0 = not laid out yet)."""
        lines.write(render(entry), width=lines.scrollable_content_region.width or None)

    def on_resize(self) -> None:
        self._redraw()  # wrap again at the new width

    def _show_count(self) -> None:
        count = self.query_one("#log-count", Static)
        text = f"{self._shown} of {len(self.entries)} lines"
        if str(count.content) != text:
            count.update(text, layout=len(text) != len(str(count.content)))  # its width is its text
