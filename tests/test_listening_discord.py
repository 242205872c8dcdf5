"""Listening statistics on the sandbox with the real bot: members join, leave, move and deafen, and the
figures, the khatm progress, the listener role, privacy and the leaderboard follow.

The library is the sample reciter (surahs 1–7, 1.5 s each, FRAMES_PER_SURAH packets), so "heard a surah
from its first frame to its last" is a matter of packets the sandbox's ears count.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

import pytest
from processes import quranbot_running
from running_bot import RunningBot
from test_panel import until

from quranbot.paths import Paths
from quranbot.sandbox.defaults import BOT_PERMISSIONS
from quranbot.sandbox.model import Permission
from quranbot.sandbox.server import Sandbox
from quranbot.store.records import GuildSettings, ListeningStats
from quranbot.store.state import StateStore

FRAMES_PER_SURAH = 76  # 1.5 s of audio + the encoder's pre-skip, in 20 ms frames


def records(home: Path, guild_id: int) -> dict[int, ListeningStats]:
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        return {s.user_id: s for s in store.all_listening(guild_id)}


def save_listening(home: Path, *stats: ListeningStats) -> None:
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        for record in stats:
            live = store.buffered_listening(record.guild_id, record.user_id)
            for name, value in record.to_document().items():
                setattr(live, name, value)


def field(embed: dict, name: str) -> str:  # type: ignore[type-arg]
    return next(f["value"] for f in embed["fields"] if f["name"] == name)


async def test_time_sessions_and_khatm_follow_who_heard_what(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    early, late = await sandbox.add_members(2)
    await sandbox.join_voice(early, d.voice)  # there before the first frame of surah 1
    listener = sandbox.listener(d.voice)
    async with RunningBot(sandbox, home, voice_channels=(d.voice.id,)):
        await listener.wait_for_packets(1)
        first_packet = time.monotonic()
        await listener.wait_for_packets(35)  # 0.7 s into surah 1
        await sandbox.join_voice(late, d.voice)
        late_joined = time.monotonic()
        await listener.wait_for_packets(2 * FRAMES_PER_SURAH + 10)  # surah 2 over, surah 3 begun
        await sandbox.set_deafened(late, d.guild)
        late_deafened = time.monotonic()
        await asyncio.sleep(0.5)
        await sandbox.join_voice(early, d.lounge)  # moved out of the Quran channel
        early_moved = time.monotonic()
        await asyncio.sleep(0.5)
        asked = await sandbox.run_command(early, d.general, "stats")
        embed = (await asked.wait())["data"]["embeds"][0]
        assert embed["title"] == "Listening · member1"
        assert field(embed, "Khatm progress").startswith("2/114 surahs heard in full")
        assert "▰▰▱" in field(embed, "Khatm progress")  # surahs 1 and 2 of the first line
        assert field(embed, "Rank") == "#1 of 2"
    stats = records(home, d.guild.id)
    first, second = stats[early.user.id], stats[late.user.id]
    # to the second: the time each was present while the bot recited, against the wall clock here
    assert first.seconds == pytest.approx(early_moved - first_packet, abs=0.3)
    assert second.seconds == pytest.approx(late_deafened - late_joined, abs=0.3)
    assert first.heard == [1, 2] and first.surahs_completed == 2  # from the first frame of 1, through 2
    assert second.heard == [2]  # joined 0.7 s into surah 1: not counted for it
    assert set(second.surahs) == {"1", "2", "3"} and second.surahs["2"] == pytest.approx(1.52, abs=0.15)
    assert set(first.reciters) == {"sample-tones"} and sum(first.hours) == pytest.approx(first.seconds)
    assert first.sessions == 1 and first.session is None and len(first.recent_sessions) == 1
    assert first.recent_sessions[0]["surahs"][:3] == [1, 2, 3]
    assert second.sessions == 1 and second.recent_sessions[0]["seconds"] == pytest.approx(second.seconds)


async def test_the_listener_role_comes_goes_and_is_reconciled_after_a_restart(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    d = sandbox.default
    role = sandbox.world.add_role(d.guild, "Listening", position=1)  # below the bot's role
    (member,) = await sandbox.add_members(1)
    defaults = (GuildSettings(d.guild.id, listener_role_id=role.id),)
    bot = RunningBot(sandbox, home, voice_channels=(d.voice.id,), guild_defaults=defaults)
    async with bot:
        await sandbox.wait_for_voice(d.guild, d.bot.user.id, d.voice.id)
        await sandbox.join_voice(member, d.voice)
        await until(lambda: role.id in member.roles, what="the role given")
        await sandbox.leave_voice(member, d.guild)
        await until(lambda: role.id not in member.roles, what="the role taken back")
        await sandbox.join_voice(member, d.voice)
        await until(lambda: role.id in member.roles, what="the role given again")
    assert role.id in member.roles  # a stop keeps it: the member may still be there at the next start
    await sandbox.leave_voice(member, d.guild)  # ...but leaves while the bot is down
    async with bot:
        await until(lambda: role.id not in member.roles, what="the role reconciled at start")
        bot_role = d.guild.role_named("QuranBot")
        await sandbox.world.update_role(
            d.guild, bot_role, permissions=BOT_PERMISSIONS & ~Permission.MANAGE_ROLES
        )
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="quranbot.bot.listener_role"):
            for _ in range(3):
                await sandbox.join_voice(member, d.voice)
                await sandbox.leave_voice(member, d.guild)
            await sandbox.join_voice(member, d.voice)
            await until(lambda: caplog.records, what="the missing permission reported")
            await asyncio.sleep(0.5)
        (report,) = [r.getMessage() for r in caplog.records]  # once, however often members come and go
        assert "lacks the Manage Roles permission" in report and "@Listening" in report
        assert role.id not in member.roles
        assert (
            "PUT",
            "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
            403,
        ) not in sandbox.rest.requests
        await sandbox.world.update_role(d.guild, bot_role, permissions=BOT_PERMISSIONS)
        await sandbox.world.update_role(d.guild, role, position=9)  # now above the bot's role
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="quranbot.bot.listener_role"):
            await sandbox.leave_voice(member, d.guild)
            await sandbox.join_voice(member, d.voice)
            await until(lambda: caplog.records, what="the role above the bot's reported")
        assert "is not below QuranBot's highest role @QuranBot" in caplog.records[0].getMessage()
        await sandbox.world.update_role(d.guild, role, position=1)
        await sandbox.leave_voice(member, d.guild)
        await sandbox.join_voice(member, d.voice)
        await until(lambda: role.id in member.roles, what="the role given once fixed")
        other = await sandbox.world.create_role(d.guild, "Hearing", position=1)
        setup = await sandbox.run_command(
            d.admin, d.general, "setup", voice_channel=d.voice.id, listener_role=other.id
        )
        assert "listeners get" in (await setup.wait())["data"]["content"]
        await until(lambda: other.id in member.roles and role.id not in member.roles, what="the new role")


async def test_privacy_leaderboard_and_an_achievement_notice(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    near, leader = await sandbox.add_members(2)
    today = time.strftime("%Y-%m-%d")
    save_listening(
        home,
        ListeningStats(d.guild.id, near.user.id, seconds=3598.0, daily={today: 3598.0}),
        ListeningStats(d.guild.id, leader.user.id, seconds=9000.0, daily={today: 9000.0}),
    )
    defaults = (GuildSettings(d.guild.id, panel_channel_id=d.panel.id),)
    async with RunningBot(
        sandbox,
        home,
        voice_channels=(d.voice.id,),
        guild_defaults=defaults,
        announce_achievements=True,
        timezone="UTC",
    ):
        await sandbox.wait_for_voice(d.guild, d.bot.user.id, d.voice.id)
        await sandbox.join_voice(near, d.voice)
        await asyncio.sleep(2.5)
        asked = await sandbox.run_command(near, d.general, "leaderboard", listening={"period": "all"})
        board = (await asked.wait())["data"]["embeds"][0]
        lines = board["description"].splitlines()
        assert lines[0].startswith(f"🥇 <@{leader.user.id}> — 2 h 30 min")
        assert lines[1].startswith(f"🥈 <@{near.user.id}> — 1 h 00 min")
        assert field(board, "You").startswith("Your rank: #2 with 1 h 00 min")
        await until(lambda: any("First hour" in m.content for m in sandbox.messages(d.panel)), what="notice")
        (notice,) = [m for m in sandbox.messages(d.panel) if "First hour" in m.content]
        assert f"<@{near.user.id}> earned **First hour**" in notice.content
        off = await sandbox.run_command(near, d.general, "stats", privacy="off")
        assert "Tracking is off" in (await off.wait())["data"]["content"]
        await asyncio.sleep(1.0)  # still in the channel: nothing more may be recorded
        again = await sandbox.run_command(near, d.general, "stats")
        assert "turned tracking off" in (await again.wait())["data"]["content"]
    kept = records(home, d.guild.id)
    assert near.user.id not in kept and kept[leader.user.id].seconds == 9000.0
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        assert store.listening_opt_outs(d.guild.id) == {near.user.id}


async def test_sigkill_mid_session_loses_at_most_the_statistics_interval(
    sandbox: Sandbox, home: Path
) -> None:
    d = sandbox.default
    (member,) = await sandbox.add_members(1)
    await sandbox.join_voice(member, d.voice)
    stats_file = Paths.under(home).state_dir / "stats.json"
    interval = 2.0
    args = ["--home", str(home), "run", "--sandbox", sandbox.url, "--sandbox-cert", str(sandbox.cert_file),
            "--token-file", str(sandbox.directory / "token"), "--voice-channel", str(d.voice.id),
            "--statistics-interval", str(interval)]  # fmt: skip
    listener = sandbox.listener(d.voice)
    async with quranbot_running(*args) as bot:
        await listener.wait_for_packets(1, timeout=20)
        started = time.monotonic()
        await until(lambda: f'"{member.user.id}"' in stats_file.read_text(), what="a first statistics write")
        written = stats_file.stat().st_mtime_ns
        await until(lambda: stats_file.stat().st_mtime_ns != written, what="the next statistics write")
        await asyncio.sleep(interval - 0.1)  # the worst case: just before the next write is due
        os.kill(bot.pid, signal.SIGKILL)
        killed = time.monotonic()
        await bot.wait()
    saved = records(home, d.guild.id)[member.user.id].seconds
    heard = killed - started
    assert heard - interval - 0.3 <= saved <= heard + 0.1, (heard, saved)


async def test_the_listener_role_can_wait_until_a_member_has_listened_a_while(
    sandbox: Sandbox, home: Path
) -> None:
    d = sandbox.default
    role = sandbox.world.add_role(d.guild, "Listening", position=1)
    (member,) = await sandbox.add_members(1)
    defaults = (GuildSettings(d.guild.id, listener_role_id=role.id),)
    async with RunningBot(
        sandbox,
        home,
        voice_channels=(d.voice.id,),
        guild_defaults=defaults,
        role_after_minutes=2.0 / 60,  # config.toml takes whole minutes; two seconds here
    ):
        await sandbox.wait_for_voice(d.guild, d.bot.user.id, d.voice.id)
        await sandbox.join_voice(member, d.voice)
        joined = time.monotonic()
        await until(lambda: role.id in member.roles, what="the role after two seconds")
        assert 1.9 <= time.monotonic() - joined <= 3.5
