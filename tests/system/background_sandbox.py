"""The sandbox (the local Discord) served from a thread of its own, so a test can block on commands in
the container for minutes while the sandbox keeps answering the bot and listening to its voice.

Everything that touches the sandbox runs on its loop, through `call()`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from quranbot.sandbox.server import Sandbox

T = TypeVar("T")


class BackgroundSandbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sandbox loop", daemon=True)
        self._sandbox: Sandbox | None = None

    @property
    def sandbox(self) -> Sandbox:
        assert self._sandbox is not None, "enter the BackgroundSandbox first"
        return self._sandbox

    def call(self, work: Callable[[Sandbox], Awaitable[T]], timeout: float = 60.0) -> T:
        """Run `work(sandbox)` on the sandbox's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(self._await(work), self._loop).result(timeout)

    async def _await(self, work: Callable[[Sandbox], Awaitable[T]]) -> T:
        return await work(self.sandbox)

    def __enter__(self) -> BackgroundSandbox:
        self._thread.start()

        async def start() -> None:
            # Made on its own loop: the sandbox's events and servers belong to it.
            self._sandbox = await Sandbox(self.directory).start()

        asyncio.run_coroutine_threadsafe(start(), self._loop).result(60)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._sandbox is not None:
            asyncio.run_coroutine_threadsafe(self._sandbox.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
