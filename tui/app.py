"""`quranbot tui`: the Textual app, a live view of the running bot over its control socket.

App → MainScreen → widgets, as in Textual's own apps. The app owns the one connection (`BotLink`,
run as a worker for the app's lifetime) and turns what it reports into messages for the screen, so
every update is handled in order on the app's loop. `QuranBotApp` also runs inside another asyncio
program (`quranbot demo` starts the sandbox and the bot, then `await app.run_async()`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from quranbot.control.machine import BotSocket
from quranbot.tui.connection import BotLink, Link, LinkState
from quranbot.tui.main_screen import MainScreen
from quranbot.tui.messages import BotEvent, LinkChanged
from quranbot.tui.shard_links import ShardLinks


class QuranBotApp(App[None]):
    TITLE = "QuranBot"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def __init__(
        self,
        socket: Path,
        *,
        retry_interval: float = 1.0,
        title_note: str | None = None,
        shards: tuple[BotSocket, ...] = (),
    ) -> None:
        """`shards`: every shard of the machine, watched as one (`socket` is then unused)."""
        super().__init__()
        self.socket = socket
        self.title_note = title_note
        self.link: Link = (
            ShardLinks(shards, self._link_changed, self._bot_event, retry_interval)
            if shards
            else BotLink(socket, self._link_changed, self._bot_event, retry_interval)
        )
        self._main: MainScreen | None = None

    @property
    def main(self) -> MainScreen:
        if self._main is None:
            self._main = MainScreen(self.link, self.title_note)
        return self._main

    def get_default_screen(self) -> Screen[Any]:
        return self.main

    def on_mount(self) -> None:
        self.run_worker(self.link.run(), name="bot link", group="link")

    def _link_changed(self, state: LinkState) -> None:
        self.main.post_message(LinkChanged(state))

    def _bot_event(self, name: str, data: Any) -> None:
        self.main.post_message(BotEvent(name, data, time.monotonic()))


def run_tui(socket: Path) -> None:
    """Run until the user quits; the bot may start, stop and restart meanwhile."""
    QuranBotApp(socket).run()
