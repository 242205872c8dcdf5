"""The top line: is the TUI connected to the bot, and if not, why and what it is doing about it."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from quranbot.tui.connection import LinkState, LinkStatus


class LinkBar(Static):
    DEFAULT_CSS = """
    LinkBar { height: 1; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    LinkBar.-connected { background: $success-muted; }
    LinkBar.-down { background: $error-muted; }
    """

    def __init__(self, note: str | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.note = note
        self.state = LinkState(LinkStatus.CONNECTING)

    def show(self, state: LinkState, retry_interval: float) -> None:
        self.state = state
        connected = state.status is LinkStatus.CONNECTED
        self.set_class(connected, "-connected")
        self.set_class(state.status not in (LinkStatus.CONNECTED, LinkStatus.CONNECTING), "-down")
        self.update(self.describe(state, retry_interval))

    def describe(self, state: LinkState, retry_interval: float) -> Content:
        head: list[str | tuple[str, str]] = [("QuranBot", "bold")]
        if self.note:
            head.append(f" ({self.note})")
        retry = f"retrying every {retry_interval:g} s"
        if state.status is LinkStatus.CONNECTED and state.shards:
            body = (
                f"{state.shards}: bot {state.hello.get('version', '?')}, pids {state.hello.get('pid', '?')}"
            )
        elif state.status is LinkStatus.CONNECTED:
            hello = state.hello
            body = f"connected: bot {hello.get('version', '?')}, pid {hello.get('pid', '?')}"
        elif state.status is LinkStatus.CONNECTING:
            body = "connecting…"
        elif state.status is LinkStatus.FORBIDDEN:
            body = f"not allowed, {retry}: {state.detail}"
        elif state.status is LinkStatus.FAILED:
            body = f"cannot use this bot, {retry}: {state.detail}"
        else:
            body = f"disconnected, {retry}: {state.detail}"
        return Content.assemble(*head, "  ", body)
