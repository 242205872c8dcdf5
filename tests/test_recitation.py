"""24/7 recitation as listeners hear it: the real bot, the real discord.py, the sandbox's ears.

The library is the sample reciter (surahs 1–7, 1.5 s each; surah N is a 200 + 10·N Hz tone), so the
order, every boundary and every command is checked from the audio that reached the voice channel.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest
from ears import hearing_now, surahs_in, wait_to_hear
from processes import quranbot_running, stop_quranbot
from running_bot import RunningBot

from quranbot.paths import Paths
from quranbot.sandbox.model import ChannelType
from quranbot.sandbox.server import Sandbox
from quranbot.store.records import GuildPlayback, GuildSettings
from quranbot.store.state import StateStore

FRAMES_PER_SURAH = 76  # 1.5 s of audio + the encoder's pre-skip, in 20 ms frames
#: Frames of a surah heard before the next one starts: its file's last two packets hold only padding (and
#: the next file's priming would follow), so the join into the next surah takes their place.
HEARD_FRAMES_PER_SURAH = 74


def save_state(
    home: Path, *, playback: GuildPlayback | None = None, settings: GuildSettings | None = None
) -> None:
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        if playback is not None:
            store.set_playback(playback)
        if settings is not None:
            store.save_settings(settings)


def saved_playback(home: Path, guild_id: int) -> dict:  # type: ignore[type-arg]
    data = json.loads((Paths.under(home).state_dir / "playback.json").read_text())
    return dict(data["guilds"][str(guild_id)])


async def test_surahs_follow_each_other_without_a_gap(sandbox: Sandbox, home: Path) -> None:
    listener = sandbox.listener(sandbox.default.voice)
    async with RunningBot(sandbox, home, voice_channels=(sandbox.default.voice.id,)):
        await listener.wait_for_packets(4 * HEARD_FRAMES_PER_SURAH + 20, timeout=20)
    stats = listener.stats()
    assert surahs_in(listener.pcm())[:4] == [1, 2, 3, 4]
    assert stats.lost_packets == 0 and stats.timestamp_jumps == 0  # one unbroken stream across 3 boundaries
    assert stats.longest_silence_ms <= 40.0
    assert stats.longest_quiet_ms <= 3.0, stats.summary()  # no gap inside frames either (the files: 17.5)
    # A fresh bot starts at surah 1, frame 0, and each sample surah is heard for HEARD_FRAMES_PER_SURAH
    # frames: so the boundaries are at packets 74, 148 and 222. The arrival gaps around them stay under
    # 40 ms.
    gaps = listener.arrival_gaps()
    for boundary in (HEARD_FRAMES_PER_SURAH, 2 * HEARD_FRAMES_PER_SURAH, 3 * HEARD_FRAMES_PER_SURAH):
        assert max(gaps[boundary - 3 : boundary + 2]) < 40.0, gaps[boundary - 3 : boundary + 2]
    assert stats.p99_gap_ms is not None and stats.p99_gap_ms < 40.0


async def test_commands_do_what_they_say_as_heard(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    listener = sandbox.listener(default.voice)
    member, channel = default.listener, default.general
    async with RunningBot(sandbox, home, voice_channels=(default.voice.id,)):
        await listener.wait_for_packets(10, timeout=20)
        await wait_until_synced(sandbox)

        async def command(name: str, **options: object) -> str:
            record = await sandbox.run_command(member, channel, name, **options)
            response = await record.wait()
            assert record.original is not None and record.original.ephemeral
            return str(response["data"]["content"])

        assert "Playing 5." in await command("play", surah=5)
        await wait_to_hear(listener, 5, timeout=3)
        assert "Skipped" in await command("next")
        await wait_to_hear(listener, 6, timeout=3)
        await command("previous")  # within 3 s of its start: back to the previous surah
        await wait_to_hear(listener, 5, timeout=3)

        assert "Paused" in await command("pause")
        await asyncio.sleep(0.3)
        paused_at = listener.packets
        await asyncio.sleep(0.6)
        assert listener.packets - paused_at <= 5  # silence while paused (a few in flight)
        assert "Resumed" in await command("resume")
        await listener.wait_for_packets(paused_at + 25, timeout=3)

        await command("loop", on=True)
        await command("play", surah=2)
        await wait_to_hear(listener, 2, timeout=3)
        mark = len(listener.pcm())
        await listener.wait_for_packets(listener.packets + 2 * FRAMES_PER_SURAH, timeout=6)
        assert set(surahs_in(listener.pcm()[mark:])) == {2}  # surah 2 again, and again

        # bad input gets a clear, private answer
        assert "Surah 115 does not exist" in await command("play", surah=115)
        assert "has 3 ayahs; 4 is out of range" in await command("verse", surah=108, ayah=4)
        assert "no per-ayah audio" in await command("verse", surah=2, ayah=255)
        assert "No reciter named 'nobody'" in await command("reciter", reciter="nobody")


async def wait_until_synced(sandbox: Sandbox) -> None:
    """Until the bot's commands are registered and it is on the gateway to receive them (the sync runs
    beside the connection, so either may come first)."""
    async with asyncio.timeout(10):
        while not any(c["name"] == "play" for c in sandbox.default.application.global_commands):
            await asyncio.sleep(0.05)
    await sandbox.wait_for_ready()


async def test_a_controller_role_limits_who_steers(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    save_state(home, settings=GuildSettings(default.guild.id, voice_channel_id=default.voice.id,
                                            controller_role_id=default.controller_role.id))  # fmt: skip
    async with RunningBot(sandbox, home):
        await sandbox.listener(default.voice).wait_for_packets(10, timeout=20)
        await wait_until_synced(sandbox)
        refused = await sandbox.run_command(default.listener, default.general, "next")
        assert "Only members with the" in (await refused.wait())["data"]["content"]
        assert hearing_now(sandbox.listener(default.voice)) == 1
        allowed = await sandbox.run_command(default.admin, default.general, "next")  # Manage Server
        assert "Skipped" in (await allowed.wait())["data"]["content"]


async def test_a_restart_resumes_where_it_stopped(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    save_state(home, playback=GuildPlayback(default.guild.id, surah=3))
    listener = sandbox.listener(default.voice)
    async with RunningBot(sandbox, home, voice_channels=(default.voice.id,)):
        await wait_to_hear(listener, 3, timeout=20)
        await asyncio.sleep(0.7)
    saved = saved_playback(home, default.guild.id)
    assert saved["surah"] == 3 and 25 <= saved["position_frames"] <= FRAMES_PER_SURAH
    fresh = sandbox.voice.reset_listener(default.voice.id)
    async with RunningBot(sandbox, home, voice_channels=(default.voice.id,)):
        await wait_to_hear(fresh, 4, timeout=20)
        await asyncio.sleep(0.3)  # a little of surah 4, so its windows count
        heard = surahs_in(fresh.pcm())
    assert heard[:2] == [3, 4]
    surah_3_frames = len(fresh.pcm()) // 3840 - 15  # frames heard before surah 4 (less the 0.3 s of it)
    remaining = HEARD_FRAMES_PER_SURAH - saved["position_frames"]
    assert surah_3_frames - remaining <= 50 + 10  # resumed within 1 s of where it stopped


async def test_sigkill_resumes_within_the_flush_interval(sandbox: Sandbox, home: Path) -> None:
    """Killed at the worst moment, just before a flush is due: what was heard since the last one is lost,
    no more. Each flush saves the exact frame (not the player's once-a-second report), so the loss is
    at most the flush interval, plus the few packets in flight."""
    default = sandbox.default
    listener = sandbox.listener(default.voice)
    interval = 1.0
    args = ["--home", str(home), "run", "--sandbox", sandbox.url, "--sandbox-cert", str(sandbox.cert_file),
            "--token-file", str(sandbox.directory / "token"), "--voice-channel", str(default.voice.id),
            "--flush-interval", f"{interval:g}"]  # fmt: skip
    playback = Paths.under(home).state_dir / "playback.json"
    async with quranbot_running(*args) as bot:
        await listener.wait_for_packets(2 * FRAMES_PER_SURAH + 30, timeout=25)
        written = playback.stat().st_mtime_ns
        while playback.stat().st_mtime_ns == written:  # a flush, just now
            await asyncio.sleep(0.002)
        await asyncio.sleep(interval - 0.08)  # the next is due in 80 ms: the worst moment to die
        os.kill(bot.pid, signal.SIGKILL)
        await bot.wait()
    heard_frames = listener.packets
    saved = saved_playback(home, default.guild.id)
    saved_frames = (saved["surah"] - 1) * HEARD_FRAMES_PER_SURAH + saved["position_frames"]
    assert 0 <= heard_frames - saved_frames <= interval * 50 + 5, heard_frames - saved_frames
    async with quranbot_running(*args) as bot:
        fresh = sandbox.voice.reset_listener(default.voice.id)
        await wait_to_hear(fresh, saved["surah"], timeout=20)
        code, _, _ = await stop_quranbot(bot)
    assert code == 0


@pytest.mark.parametrize("fault", ["kick", "move", "4006", "4014", "4015", "4022", "gateway", "udp"])
async def test_faults_recover_within_ten_seconds_heard(sandbox: Sandbox, home: Path, fault: str) -> None:
    default = sandbox.default
    listener = sandbox.listener(default.voice)
    async with RunningBot(sandbox, home, voice_channels=(default.voice.id,)):
        await listener.wait_for_packets(20, timeout=20)
        if fault == "kick":
            await sandbox.faults.kick_from_voice(default.guild)
        elif fault == "move":
            await sandbox.faults.move_voice(default.guild, default.lounge.id)
        elif fault == "gateway":
            await sandbox.faults.drop_gateway()
        elif fault == "udp":  # the voice server stops answering for 3 s, then comes back
            sandbox.faults.stop_udp()
            await asyncio.sleep(3)
            sandbox.faults.resume_udp()
        else:
            await sandbox.faults.close_voice(default.guild, int(fault))
        await asyncio.sleep(0.5)
        mark = listener.packets
        # back in the configured channel, reciting, within 10 s
        await sandbox.wait_for_voice(default.guild, default.bot.user.id, default.voice.id, timeout=10)
        await listener.wait_for_packets(mark + 50, timeout=10)
        assert hearing_now(listener) is not None


async def test_two_guilds_recite_different_surahs_at_once(sandbox: Sandbox, home: Path) -> None:
    world = sandbox.world
    second = world.add_guild("Second Guild", world.new_user("owner2"))
    second.members[default_bot(sandbox).id] = sandbox.default.bot
    hall = world.add_channel(second, "Hall", ChannelType.VOICE)
    save_state(home, playback=GuildPlayback(second.id, surah=6))
    save_state(home, settings=GuildSettings(second.id, voice_channel_id=hall.id))
    async with RunningBot(sandbox, home, voice_channels=(sandbox.default.voice.id,)):
        await wait_to_hear(sandbox.listener(sandbox.default.voice), 1, timeout=20)
        await wait_to_hear(sandbox.listener(hall), 6, timeout=20)
        assert hearing_now(sandbox.listener(sandbox.default.voice)) in (1, 2)


def default_bot(sandbox: Sandbox):  # type: ignore[no-untyped-def]
    return sandbox.default.bot.user


async def test_setup_presence_nowplaying_and_cooldown(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    async with RunningBot(sandbox, home):  # no channel configured yet: silent until /setup
        await wait_until_synced(sandbox)
        refused = await sandbox.run_command(
            default.listener, default.general, "setup", voice_channel=default.lounge.id
        )
        assert "Manage Server" in (await refused.wait())["data"]["content"]
        assert sandbox.in_voice(default.guild, default.bot.user.id) is None
        done = await sandbox.run_command(
            default.admin, default.general, "setup", voice_channel=default.lounge.id
        )
        assert "Reciting in" in (await done.wait())["data"]["content"]
        await wait_to_hear(sandbox.listener(default.lounge), 1, timeout=15)

        now = await sandbox.run_command(default.listener, default.general, "nowplaying")
        text = (await now.wait())["data"]["content"]
        assert "Al-Faatiha" in text and "Sample tones" in text and "🔘" in text

        async with asyncio.timeout(20):  # presence: what is being recited
            while "Al-Faatiha" not in json.dumps(sandbox.presence() or {}):
                await asyncio.sleep(0.1)

        answers = []
        for _ in range(7):  # one member flooding /next is slowed down
            record = await sandbox.run_command(default.listener, default.general, "next")
            answers.append((await record.wait())["data"]["content"])
        assert any(a.startswith("Slow down") for a in answers)
        assert sum(a.startswith("Skipped") for a in answers) == 5
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        assert store.settings(default.guild.id).voice_channel_id == default.lounge.id  # /setup was saved


async def test_pause_when_empty_follows_the_listeners(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    listener = sandbox.listener(default.voice)
    async with RunningBot(sandbox, home, voice_channels=(default.voice.id,), pause_when_empty=True):
        await sandbox.wait_for_voice(default.guild, default.bot.user.id, default.voice.id, timeout=20)
        await asyncio.sleep(1.0)
        idle = listener.packets
        await asyncio.sleep(1.0)
        assert listener.packets - idle <= 5  # nobody there: paused
        await sandbox.join_voice(default.listener, default.voice)
        await listener.wait_for_packets(idle + 40, timeout=5)  # someone came: reciting again
        await sandbox.leave_voice(default.listener, default.guild)
        await asyncio.sleep(0.5)
        left = listener.packets
        await asyncio.sleep(1.0)
        assert listener.packets - left <= 5


async def test_a_stall_is_noticed_and_recovered(sandbox: Sandbox, home: Path) -> None:
    """The audio stops while the voice connection stays up (the library vanished under the bot, as on a
    disk that went away): after 10 s without frames the watchdog reconnects and recitation resumes."""
    default = sandbox.default
    listener = sandbox.listener(default.voice)
    library = Paths.under(home).audio_dir
    hidden = library.with_name("audio-hidden")
    async with RunningBot(sandbox, home, voice_channels=(default.voice.id,)):
        await listener.wait_for_packets(20, timeout=20)
        library.rename(hidden)
        async with asyncio.timeout(10):  # the current surah ends, the next cannot open: silence
            mark = -1
            while listener.packets != mark:
                mark = listener.packets
                await asyncio.sleep(1.0)
        hidden.rename(library)
        await listener.wait_for_packets(mark + 50, timeout=15)  # the watchdog's 10 s, then audio again
        assert sandbox.in_voice(default.guild, default.bot.user.id) == default.voice.id
