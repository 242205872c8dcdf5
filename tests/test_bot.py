"""The first bot, run in-process against the sandbox with the real discord.py stack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from quranbot.audio.sample import sample_frequency
from quranbot.bot.runner import StartupError, run_bot
from quranbot.bot.settings import BotSettings
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox
from quranbot.secret import Secret

StartBot = Callable[..., Awaitable[asyncio.Task[None]]]


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


@pytest.fixture
async def start_bot(sandbox: Sandbox, home: Path) -> AsyncIterator[StartBot]:
    """Start the bot on the sandbox; it is stopped (as SIGTERM would) at the end of the test."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start(**settings: object) -> asyncio.Task[None]:
        config = BotSettings(token=Secret(sandbox.token), **settings)  # type: ignore[arg-type]
        task = asyncio.create_task(
            run_bot(
                config,
                Paths.under(home),
                connector=sandbox.connector(),
                stop=stop,
                handle_signals=False,
            )
        )
        tasks.append(task)
        return task

    yield start
    stop.set()
    for task in tasks:
        await asyncio.wait_for(task, 10)


def dominant_hz(pcm: bytes) -> float:
    left = np.frombuffer(pcm, dtype="<i2")[::2].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left))))
    return float(np.fft.rfftfreq(len(left), 1 / 48_000)[np.argmax(spectrum)])


async def test_bot_logs_in_and_syncs_ping(sandbox: Sandbox, start_bot: StartBot) -> None:
    await start_bot()
    await until(lambda: any(c["name"] == "ping" for c in sandbox.default.application.global_commands))
    ping = next(c for c in sandbox.default.application.global_commands if c["name"] == "ping")
    assert ping["description"].startswith("Check that QuranBot is online")
    assert ("PUT", "/applications/{app_id}/commands", 200) in sandbox.rest.requests


async def test_ping_is_answered_to_the_member_who_asked(sandbox: Sandbox, start_bot: StartBot) -> None:
    await start_bot()
    await until(lambda: bool(sandbox.default.application.global_commands))
    await sandbox.wait_for_ready()
    interaction = await sandbox.run_command(sandbox.default.listener, sandbox.default.general, "ping")
    response = await interaction.wait()
    assert response["type"] == 4
    assert response["data"]["content"].startswith("Pong! Gateway latency:")
    assert interaction.original is not None and interaction.original.ephemeral
    # ephemeral: visible to the member, never posted to the channel for everyone
    assert sandbox.messages(sandbox.default.general, include_ephemeral=False) == []


async def test_bot_joins_voice_and_the_channel_hears_the_tone(sandbox: Sandbox, start_bot: StartBot) -> None:
    default = sandbox.default
    await start_bot(voice_channels=(default.voice.id,))
    await sandbox.wait_for_voice(default.guild, default.bot.user.id, default.voice.id)
    listener = sandbox.listener(default.voice)
    await listener.wait_for_packets(60, timeout=15)
    stats = listener.stats()
    assert stats.lost_packets == 0
    assert stats.median_gap_ms is not None and 1000 / stats.median_gap_ms == pytest.approx(50, abs=1.5)
    first_second = listener.pcm()[: 48_000 * 4]  # sample surah 1 (where a fresh bot starts) is 210 Hz
    assert dominant_hz(first_second) == pytest.approx(sample_frequency(1), abs=2)


async def test_bad_token_is_a_clear_error_without_the_token(sandbox: Sandbox, tmp_path: Path) -> None:
    token = "MTIz.bad-token.value-that-must-not-leak"
    settings = BotSettings(token=Secret(token))
    with pytest.raises(StartupError) as caught:
        await run_bot(settings, Paths.under(tmp_path), connector=sandbox.connector(), handle_signals=False)
    assert "rejected the bot token" in str(caught.value)
    assert token not in str(caught.value) and token not in repr(settings)
