"""The real bot, in this test's event loop, against the sandbox: start it, stop it as SIGTERM would."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from quranbot.bot.runner import run_bot
from quranbot.bot.settings import BotSettings
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox
from quranbot.secret import Secret


class RunningBot:
    """With `min_run`, a run lasts at least that long: discord.py dispatches `ready` from a task that
    waits `guild_ready_timeout` (2 s) after the last GUILD_CREATE, and a client closed sooner logs an error
    from that task (see tests/test_panel.py's BotRuns). Tests that time a stop leave it 0."""

    #: Enough for discord.py's ready task.
    READY = 2.5

    def __init__(self, sandbox: Sandbox, home: Path, *, min_run: float = 0.0, **settings: Any) -> None:
        self.min_run = min_run
        self.sandbox = sandbox
        self.paths = Paths.under(home)
        self.settings = BotSettings(token=Secret(sandbox.token), **settings)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0

    async def start(self) -> RunningBot:
        self._stop = asyncio.Event()
        self._started = time.monotonic()
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
            await asyncio.sleep(self._started + self.min_run - time.monotonic())
            self._stop.set()
            await asyncio.wait_for(self._task, 15)
            self._task = None

    async def __aenter__(self) -> RunningBot:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
