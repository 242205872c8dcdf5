"""The daily verse on the sandbox with the real bot: posted at its time of day, exactly once across
restarts, a missed post made once when the bot comes back (within the grace period) and never a
backlog, a pool used up before any ayah repeats, `quranbot verse post-now`, and `/setup`.

Times are real: the post time is set a few seconds ahead on the bot's clock (UTC here), so the wall
clock moves past it while the bot runs. Every posted text is compared with the data files' bytes.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from processes import finish, start_quranbot
from running_bot import RunningBot
from test_panel import until

from quranbot.paths import Paths
from quranbot.sandbox.model import Channel, Message
from quranbot.sandbox.server import Sandbox
from quranbot.store.records import GuildSettings
from quranbot.store.state import StateStore

DATA = Path(__file__).resolve().parent.parent / "data"
TITLE = re.compile(r"Verse of the day · .+ (\d+):(\d+)$")


def tanzil(name: str) -> dict[tuple[int, int], str]:
    """The data file's ayahs by (surah, ayah), split from its raw bytes here, not by the bot's reader."""
    ayahs = {}
    for line in (DATA / name).read_bytes().decode("utf-8").split("\n"):
        if line and not line.startswith("#"):
            surah, ayah, text = line.split("|", 2)
            ayahs[int(surah), int(ayah)] = text
    return ayahs


ARABIC, ENGLISH = tanzil("quran-uthmani.txt"), tanzil("en.pickthall.txt")


def verses(sandbox: Sandbox, channel: Channel) -> list[Message]:
    return [
        m
        for m in sandbox.messages(channel, include_ephemeral=False)
        if m.embeds and TITLE.match(str(m.embeds[0].get("title", "")))
    ]


def checked_ref(message: Message) -> tuple[int, int]:
    """The ayah a posted verse names, after checking its text byte for byte and its attributions."""
    embed = message.embeds[0]
    match = TITLE.match(embed["title"])
    assert match is not None
    ref = int(match.group(1)), int(match.group(2))
    assert embed["description"].encode() == f"{ARABIC[ref]}\n\n{ENGLISH[ref]}".encode()
    footer = embed["footer"]["text"]
    assert (
        "Quran text: Tanzil Project, tanzil.net" in footer and "Translation: Pickthall, via Tanzil" in footer
    )
    return ref


def utc_in(seconds: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%H:%M:%S")


def daily_verse_state(home: Path, guild_id: int) -> tuple[str, list[int]]:
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        state = store.daily_verse(guild_id)
        return state.last_slot, state.posted


def set_last_slot(home: Path, guild_id: int, day: str) -> None:
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        state = store.daily_verse(guild_id)
        state.last_slot = day
        store.save_daily_verse(state)


async def started(sandbox: Sandbox, bot: RunningBot) -> None:
    sandbox.gateway.identified.clear()
    await bot.start()
    await sandbox.wait_for_ready()


def skip_midnight() -> None:
    """The post time is a few seconds ahead: a test started just before midnight would cross days."""
    now = datetime.datetime.now(datetime.UTC)
    if now.hour == 23 and now.minute == 59:
        import time

        time.sleep(61 - now.second)


async def test_posted_at_its_time_exactly_once_across_restarts(sandbox: Sandbox, home: Path) -> None:
    skip_midnight()
    d = sandbox.default
    defaults = (GuildSettings(d.guild.id, daily_verse_channel_id=d.general.id, daily_verse_time=utc_in(4)),)
    bot = RunningBot(sandbox, home, timezone="UTC", guild_defaults=defaults)
    await started(sandbox, bot)
    await asyncio.sleep(2)
    assert verses(sandbox, d.general) == []  # not before its time
    await until(lambda: verses(sandbox, d.general), 6, "the daily verse at its time")
    first = checked_ref(verses(sandbox, d.general)[0])
    await bot.stop()
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    assert daily_verse_state(home, d.guild.id)[0] == today

    await started(sandbox, bot)  # a restart the same day posts nothing
    await asyncio.sleep(RunningBot.READY + 1)
    await bot.stop()
    assert len(verses(sandbox, d.general)) == 1

    # A post missed while the bot was down (today's slot not done, its time 0-1 min ago): made once
    set_last_slot(home, d.guild.id, "2000-01-01")
    await started(sandbox, bot)
    await until(lambda: len(verses(sandbox, d.general)) == 2, 5, "the missed post, made at start")
    await asyncio.sleep(1)
    await bot.stop()
    await started(sandbox, bot)
    await asyncio.sleep(RunningBot.READY + 1)
    await bot.stop()
    posted = verses(sandbox, d.general)
    assert len(posted) == 2, "the missed post was made twice"
    second = checked_ref(posted[1])
    assert second != first  # not posted before in this guild
    _, history = daily_verse_state(home, d.guild.id)
    assert len(history) == 2


async def test_a_post_missed_beyond_the_grace_is_skipped_not_made_late(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    d = sandbox.default
    # a zone where it is not near midnight now, so "3 minutes ago" is today's slot
    zone = "UTC" if datetime.datetime.now(datetime.UTC).hour not in (0, 23) else "Asia/Tokyo"
    local_now = datetime.datetime.now(ZoneInfo(zone))
    earlier = (local_now - datetime.timedelta(minutes=3)).strftime("%H:%M")
    defaults = (GuildSettings(d.guild.id, daily_verse_channel_id=d.general.id, daily_verse_time=earlier),)
    bot = RunningBot(
        sandbox,
        home,
        timezone=zone,
        guild_defaults=defaults,
        daily_verse_grace=datetime.timedelta(seconds=30),
    )
    with caplog.at_level("INFO", logger="quranbot.bot.daily_verse"):
        await started(sandbox, bot)
        await asyncio.sleep(RunningBot.READY + 1)
        await bot.stop()
    assert verses(sandbox, d.general) == []
    assert "Skipped the daily verse of" in caplog.text and "missed while stopped" in caplog.text
    today = datetime.datetime.now(ZoneInfo(zone)).date().isoformat()
    assert daily_verse_state(home, d.guild.id)[0] == today  # handled: not retried on the next start


async def test_post_now_uses_the_pool_up_before_repeating(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    tomorrow_only = utc_in(-3600 * 2) if datetime.datetime.now(datetime.UTC).hour >= 2 else "23:59"
    defaults = (
        GuildSettings(d.guild.id, daily_verse_channel_id=d.general.id, daily_verse_time=tomorrow_only),
    )
    set_last_slot(home, d.guild.id, "9999-12-31")  # the day's post is done: only post-now posts here
    bot = RunningBot(
        sandbox,
        home,
        timezone="UTC",
        guild_defaults=defaults,
        daily_verse_pool=("112:1", "112:2", "112:3"),
    )
    async with bot:
        await sandbox.wait_for_ready()
        refs = []
        for count in range(1, 5):
            code, out, err = await finish(
                await start_quranbot("--home", str(home), "verse", "post-now", "--json")
            )
            assert code == 0, err
            answer = json.loads(out)
            assert answer["guild_id"] == str(d.guild.id) and answer["channel_id"] == str(d.general.id)
            await until(lambda n=count: len(verses(sandbox, d.general)) == n, 5, "the posted verse")
            ref = checked_ref(verses(sandbox, d.general)[-1])
            assert answer["ref"] == f"{ref[0]}:{ref[1]}"
            refs.append(ref)
        code, _, err = await finish(
            await start_quranbot("--home", str(home), "verse", "post-now", "--guild", "1")
        )
        assert code == 1 and "no guild '1' has a daily verse channel" in err
    assert sorted(refs[:3]) == [(112, 1), (112, 2), (112, 3)]  # each once before any repeats
    assert refs[3] != refs[2]  # the new round does not start with the ayah posted last


async def test_post_now_needs_a_running_bot_and_a_channel(sandbox: Sandbox, home: Path) -> None:
    code, _, err = await finish(await start_quranbot("--home", str(home), "verse", "post-now"))
    assert code == 3 and "not running" in err
    async with RunningBot(sandbox, home):
        await sandbox.wait_for_ready()
        code, _, err = await finish(await start_quranbot("--home", str(home), "verse", "post-now"))
    assert code == 1 and "no guild has a daily verse channel" in err


async def test_setup_sets_the_channel_and_time_and_the_next_post_waits_for_it(
    sandbox: Sandbox, home: Path
) -> None:
    skip_midnight()
    d = sandbox.default
    bot = RunningBot(sandbox, home, timezone="UTC", voice_channels=(d.voice.id,))
    async with bot:
        await sandbox.wait_for_ready()
        refused = await sandbox.run_command(d.admin, d.general, "setup", daily_verse_time="7 am")
        await refused.wait()
        assert refused.original is not None
        assert 'daily_verse_time: "7 am" is not a time of day (HH:MM' in refused.original.content
        passed = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=30)).strftime("%H:%M:%S")
        done = await sandbox.run_command(
            d.admin, d.general, "setup", daily_verse_channel=d.panel.id, daily_verse_time=passed
        )
        await done.wait()
        assert (
            done.original is not None
            and f"the daily verse in <#{d.panel.id}> at {passed}" in done.original.content
        )
        await asyncio.sleep(1.5)
        assert verses(sandbox, d.panel) == []  # today's time had passed: the first post is tomorrow's
        soon = utc_in(3)
        done = await sandbox.run_command(d.admin, d.general, "setup", daily_verse_time=soon)
        await done.wait()
        await until(lambda: verses(sandbox, d.panel), 8, "the post at the new time")
        checked_ref(verses(sandbox, d.panel)[0])
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        saved = store.saved_settings(d.guild.id)
    assert (saved.daily_verse_channel_id, saved.daily_verse_time) == (d.panel.id, soon)
    assert saved.voice_channel_id == d.voice.id  # kept: /setup without voice_channel changes nothing there
