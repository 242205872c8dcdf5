"""The real bot, in this test's event loop, against the sandbox: start it, stop it as SIGTERM would."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from quranbot.bot.runner import run_bot
from quranbot.bot.settings import BotSettings
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox
from quranbot.secret import Secret


class RunningBot:
    """A run may be stopped at any moment, even before discord.py dispatches `ready` (QuranBot.close
    ends that task first; tests/test_clean_stop.py holds it to a clean log)."""

    #: Until discord.py dispatches `ready`: its task waits `guild_ready_timeout` (2 s) after the last
    #: GUILD_CREATE.
    READY = 2.5

    def __init__(self, sandbox: Sandbox, home: Path, **settings: Any) -> None:
        self.sandbox = sandbox
        self.paths = Paths.under(home)
        self.settings = BotSettings(token=Secret(sandbox.token), **settings)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> RunningBot:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(
            run_bot(
                self.settings,
                self.paths,
                connector=self.sandbox.connector(),
                stop=self._stop,
                handle_signals=False,
            )
        )
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._stop.set()
            await asyncio.wait_for(self._task, 15)
            self._task = None

    async def __aenter__(self) -> RunningBot:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
