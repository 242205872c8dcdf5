"""What the connection tells the screen, as Textual messages: handled in order, on the app's loop."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from quranbot.tui.connection import LinkState


class LinkChanged(Message):
    """Connected, or not (and why)."""

    def __init__(self, state: LinkState) -> None:
        super().__init__()
        self.state = state


class BotEvent(Message):
    """One event from a subscription: player, listeners, logs, stats, dropped or error."""

    def __init__(self, name: str, data: Any, received_at: float) -> None:
        super().__init__()
        self.name = name
        self.data = data
        self.received_at = received_at
