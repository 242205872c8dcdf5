"""A real terminal for tests: a tmux server of its own (`-L`), one 120x40 session, no status line.

What a person sees is `tmux capture-pane`; what they do is `tmux send-keys`. Its own server means
nothing here touches anyone's tmux sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import time
from pathlib import Path

import pytest

#: The tmux server passes its environment to the programs it runs: COLUMNS/LINES (set when the caller
#: ran without a terminal) would override the session's real 120x40 for Textual.
TMUX_ENV = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}
TMUX_ENV["LANG"] = "C.UTF-8"


class Tmux:
    """One tmux server (its own socket name) holding one 120x40 session."""

    def __init__(self) -> None:
        self.server = f"quranbot-test-{os.getpid()}-{time.monotonic_ns()}"

    async def run(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            "tmux", "-u", "-L", self.server, *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=TMUX_ENV,
        )  # fmt: skip
        out, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {err.decode().strip()}")
        return out.decode()

    async def start(self, command: list[str]) -> None:
        await self.run(
            "new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", shlex.join(command),
            ";", "set-option", "-t", "tui", "status", "off",  # all 40 rows for the TUI
        )  # fmt: skip

    async def screen(self) -> str:
        return await self.run("capture-pane", "-p", "-t", "tui")

    async def keys(self, *keys: str) -> None:
        await self.run("send-keys", "-t", "tui", *keys)

    async def until_shows(self, *texts: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = await self.screen()
            if all(text in screen for text in texts):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"tmux never showed {texts!r}; it shows:\n{screen}")
            await asyncio.sleep(0.1)

    async def alive(self) -> bool:
        try:
            await self.run("has-session", "-t", "tui")
        except RuntimeError:
            return False
        return True

    async def kill(self) -> None:
        with contextlib.suppress(RuntimeError):  # already gone with its last session
            await self.run("kill-server")
        socket_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp"), f"tmux-{os.getuid()}")
        (socket_dir / self.server).unlink(missing_ok=True)  # a server that exited leaves its socket
