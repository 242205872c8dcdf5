"""`quranbot tui` as a person runs it: a real terminal (tmux, 120x40), real keys, the bot in another process.

The bot is `quranbot run` against this test's sandbox; the TUI is `quranbot --home H tui` inside a tmux
session on a tmux server of its own (`-L`), so nothing here touches anyone's tmux. What the person
sees is `tmux capture-pane`; what they do is `tmux send-keys`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from ears import wait_to_hear
from processes import quranbot_running
from test_tui import preset
from tmux import Tmux

from quranbot.sandbox.server import Sandbox
from quranbot.store.records import GuildPlayback


def changed(before: str, after: str) -> list[tuple[str, str]]:
    pairs = zip(before.splitlines(), after.splitlines(), strict=False)
    return [(old, new) for old, new in pairs if old != new]


async def test_a_person_at_a_terminal_watches_and_steers(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    preset(home, GuildPlayback(default.guild.id, reciter="sample-tones", surah=1, loop=True))
    listener = sandbox.listener(default.voice)
    bot_args = [
        "--home", str(home), "run", "--sandbox", sandbox.url, "--sandbox-cert", str(sandbox.cert_file),
        "--token-file", str(sandbox.directory / "token"), "--voice-channel", str(default.voice.id),
    ]  # fmt: skip
    tmux = Tmux()
    async with quranbot_running(*bot_args):
        try:
            await tmux.start([sys.executable, "-m", "quranbot", "--home", str(home), "tui"])
            await wait_to_hear(listener, 1, timeout=20)
            first = await tmux.until_shows("connected: bot", "1. Al-Faatiha", "الفاتحة", "▶ playing", "Quit")
            assert len(first.splitlines()) == 40 and "space Pause  n Next" in first.splitlines()[-1]

            await tmux.keys("n")
            await wait_to_hear(listener, 2, timeout=5)
            second = await tmux.until_shows("2. Al-Baqara", "البقرة", "Skipped to the next surah")
            diff = changed(first, second)
            assert any("1. Al-Faatiha" in old and "2. Al-Baqara" in new for old, new in diff)
            assert any("الفاتحة" in old and "البقرة" in new for old, new in diff)  # logical order, as sent

            await tmux.keys("Space")
            await tmux.until_shows("‖ paused", "Resume")
            await asyncio.sleep(0.3)
            mark = listener.packets
            await asyncio.sleep(0.5)
            assert listener.packets - mark <= 5

            await tmux.keys("q")
            deadline = time.monotonic() + 10
            while await tmux.alive():  # the TUI quits, and its session with it
                if time.monotonic() > deadline:
                    pytest.fail(f"q did not quit the TUI; the screen shows:\n{await tmux.screen()}")
                await asyncio.sleep(0.1)
        finally:
            await tmux.kill()
