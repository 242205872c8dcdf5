"""Every guild's audio on one pacing thread, through discord.py's public voice client (quranbot/bot/
voice_stream.py), with the real bot on the sandbox: two guilds recite from one "audio pacer" thread and
no discord.py audio-player thread, and the speaking flag is said again on every new voice connection
(after a 4006, a move back) and cleared while paused.

The first test pins the discord.py surface the stream uses: it fails on an upgrade that changes it."""

from __future__ import annotations

import asyncio
import inspect
import threading
from pathlib import Path

import discord
from discord.gateway import DiscordVoiceWebSocket
from running_bot import RunningBot
from test_hung_track import hang_surah, release_fifo, unblocked_after

from quranbot.audio.player import READ_DEADLINE_SECONDS
from quranbot.control.client import ControlClient
from quranbot.paths import Paths
from quranbot.sandbox.defaults import DefaultGuild, add_guild_with_bot
from quranbot.sandbox.server import Sandbox


def test_the_discord_py_surface_the_stream_uses_is_there() -> None:
    send = inspect.signature(discord.VoiceClient.send_audio_packet)
    assert list(send.parameters) == ["self", "data", "encode"]
    assert send.parameters["encode"].kind is inspect.Parameter.KEYWORD_ONLY
    assert isinstance(inspect.getattr_static(discord.VoiceClient, "ws"), property)
    assert inspect.isfunction(discord.VoiceClient.is_connected)
    assert inspect.iscoroutinefunction(DiscordVoiceWebSocket.speak)
    assert (int(discord.SpeakingState.voice), int(discord.SpeakingState.none)) == (1, 0)


async def speaking_becomes(sandbox: Sandbox, guild: DefaultGuild, flag: int, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while sandbox.speaking(guild.guild, guild.bot.user.id) != flag:
            await asyncio.sleep(0.05)


async def test_two_guilds_recite_from_one_pacer_thread(sandbox: Sandbox, home: Path) -> None:
    first = sandbox.default
    second = add_guild_with_bot(sandbox.world, first.application, "Second Guild")
    ears = [sandbox.listener(g.voice) for g in (first, second)]
    async with RunningBot(sandbox, home, voice_channels=(first.voice.id, second.voice.id)):
        for ear in ears:
            await ear.wait_for_packets(100, timeout=20)
        names = [t.name for t in threading.enumerate()]
        assert names.count("audio pacer") == 1
        assert not [n for n in names if n.startswith("audio-player:")], names
        before = [ear.packets for ear in ears]
        await asyncio.sleep(1.0)
        rates = [ear.packets - b for ear, b in zip(ears, before, strict=True)]
        assert all(40 <= r <= 60 for r in rates), rates  # 50 a second in each guild
    assert "audio pacer" not in [t.name for t in threading.enumerate()]  # the stop ended it


async def test_the_speaking_flag_is_said_on_every_new_connection(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    ear = sandbox.listener(d.voice)
    async with RunningBot(sandbox, home, voice_channels=(d.voice.id,)):
        await ear.wait_for_packets(50, timeout=20)
        await speaking_becomes(sandbox, d, 1)

        await sandbox.faults.close_voice(d.guild, 4006)  # a new session: its flag starts at 0
        await ear.wait_for_packets(ear.packets + 100, timeout=20)
        await speaking_becomes(sandbox, d, 1)

        await sandbox.faults.move_voice(d.guild, d.lounge.id)  # dragged away; the watchdog comes back
        await sandbox.wait_for_voice(d.guild, d.bot.user.id, d.voice.id, timeout=20)
        await ear.wait_for_packets(ear.packets + 100, timeout=20)
        await speaking_becomes(sandbox, d, 1)

        await (await sandbox.run_command(d.admin, d.general, "pause")).wait()
        await speaking_becomes(sandbox, d, 0)
        await (await sandbox.run_command(d.admin, d.general, "resume")).wait()
        await speaking_becomes(sandbox, d, 1)


async def test_a_hung_track_in_one_guild_never_delays_another(sandbox: Sandbox, home: Path) -> None:
    """Guild one is sent to a surah whose file never answers (a FIFO); on the shared pacer, guild two's
    frames keep their 20 ms all the while, and guild one moves on past the hung file."""
    first = sandbox.default
    second = add_guild_with_bot(sandbox.world, first.application, "Second Guild")
    fifo = hang_surah(home, 3)
    ears = [sandbox.listener(g.voice) for g in (first, second)]
    async with RunningBot(sandbox, home, voice_channels=(first.voice.id, second.voice.id)):
        for ear in ears:
            await ear.wait_for_packets(50, timeout=20)
        with unblocked_after(fifo, 30):
            async with await ControlClient.connect(Paths.under(home).control_socket) as client:
                await client.call("control", guild=str(first.guild.id), action="play", surah=3)
            gaps_before = len(ears[1].arrival_gaps())
            await asyncio.sleep(READ_DEADLINE_SECONDS + 1.0)  # the hung read is given up meanwhile
            during = ears[1].arrival_gaps()[gaps_before:]
            await ears[0].wait_for_packets(ears[0].packets + 50, timeout=10)  # guild one goes on
            release_fifo(fifo)
    assert len(during) >= 40 * (READ_DEADLINE_SECONDS + 1.0) and max(during) < 100, max(during)  # ms
