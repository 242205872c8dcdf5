"""The control panel, against the sandbox: the real bot and discord.py, and audio that is heard.

The sample reciter's surah N is a 200 + 10·N Hz tone of 1.5 s. Playback starts with loop on (saved in
the store before the bot starts), so the surah a control chose keeps sounding long enough to be
recognised. The library holds surahs 1–7 only: `next` after 7 goes round to 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from running_bot import RunningBot

from quranbot.audio.levels import dominant_frequency
from quranbot.audio.sample import SAMPLE_NAME, SAMPLE_SLUG, surah_from_frequency
from quranbot.paths import Paths
from quranbot.quran.metadata import load_metadata
from quranbot.sandbox.interactions import InteractionRecord
from quranbot.sandbox.model import Channel, Message
from quranbot.sandbox.server import Sandbox
from quranbot.store.records import GuildPlayback, GuildSettings
from quranbot.store.state import StateStore

PATCH_MESSAGE = ("PATCH", "/channels/{channel_id}/messages/{message_id}")
#: The panel's edit throttle (5 s) plus room for a loaded machine.
EDIT_WAIT = 8.0


@pytest.fixture
async def bot(sandbox: Sandbox, home: Path) -> AsyncIterator[RunningBot]:
    """The real bot, started and stopped (as SIGTERM would) by each test, again on the same home."""
    runs = RunningBot(sandbox, home)
    yield runs
    await runs.stop()


def configure(
    sandbox: Sandbox, home: Path, *, panel: bool = True, controller_role_id: int | None = None
) -> None:
    """Save the guild's settings (and loop on) before the bot starts, as /setup would have."""
    d = sandbox.default
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        store.save_settings(
            GuildSettings(
                guild_id=d.guild.id,
                voice_channel_id=d.voice.id,
                panel_channel_id=d.panel.id if panel else None,
                controller_role_id=controller_role_id,
            )
        )
        store.set_playback(GuildPlayback(guild_id=d.guild.id, loop=True))


def saved_settings(home: Path, guild_id: int) -> GuildSettings:
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        return store.settings(guild_id)


async def until(condition: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}") from None


def panels(sandbox: Sandbox, channel: Channel | None = None) -> list[Message]:
    """The bot's non-ephemeral messages with an embed: its panels."""
    messages = sandbox.messages(channel or sandbox.default.panel, include_ephemeral=False)
    return [m for m in messages if m.embeds]


async def the_panel(sandbox: Sandbox) -> Message:
    await until(lambda: panels(sandbox), what="the panel to be posted")
    (panel,) = panels(sandbox)
    return panel


def text(message: Message) -> str:
    """Everything the panel's embed says."""
    parts: list[str] = []
    for embed in message.embeds:
        parts += [
            embed.get("title", ""),
            embed.get("description", ""),
            embed.get("footer", {}).get("text", ""),
        ]
        parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


def field(message: Message, name: str) -> str:
    return next(f["value"] for f in message.embeds[0].get("fields", []) if f["name"] == name)


def component(message: Message, custom_id: str) -> dict[str, Any]:
    found = message.find_component(custom_id)
    assert found is not None, f"no {custom_id} on the panel"
    return found


def surah_line(number: int) -> str:
    surah = load_metadata().surah(number)
    return f"{surah.number}. {surah.name}** — {surah.english_name}"


def heard(sandbox: Sandbox) -> int | None:
    """The sample surah the voice channel hears now (its last 0.2 s)."""
    hz = dominant_frequency(sandbox.listener(sandbox.default.voice).pcm(last_seconds=0.2))
    return None if hz is None else surah_from_frequency(hz)


async def hear(sandbox: Sandbox, surah: int, timeout: float = 5.0) -> None:
    await until(
        lambda: heard(sandbox) == surah, timeout, f"surah {surah} to be heard (hearing {heard(sandbox)})"
    )


async def press(sandbox: Sandbox, message: Message, control: str, who: str = "admin") -> InteractionRecord:
    member = getattr(sandbox.default, who)
    record = await sandbox.press(member, message, f"quranbot:panel:{control}")
    await record.wait()
    return record


async def test_panel_shows_now_playing_and_its_buttons_steer_what_is_heard(
    sandbox: Sandbox, home: Path, bot: RunningBot
) -> None:
    configure(sandbox, home)
    await bot.start()
    panel = await the_panel(sandbox)
    fatiha = load_metadata().surah(1)
    shown = text(panel)
    assert surah_line(1) in shown and fatiha.arabic_name in shown
    assert SAMPLE_NAME in shown and "sample tones, not a recitation" in shown
    assert "🔘" in field(panel, "Progress") and " / " in field(panel, "Progress")
    assert "Tanzil" in panel.embeds[0]["footer"]["text"]
    await hear(sandbox, 1)

    next_press = await press(sandbox, panel, "next")
    assert next_press.response_type == 6  # deferred update: the panel's own edit shows the result
    await hear(sandbox, 2)
    baqara = load_metadata().surah(2)
    await until(lambda: surah_line(2) in text(panel), EDIT_WAIT, "the panel to show surah 2")
    assert baqara.arabic_name in text(panel)
    assert "Skipped to the next surah — by admin" in field(panel, "Last action")
    assert len(panels(sandbox)) == 1  # edited, not posted again

    listener = sandbox.listener(sandbox.default.voice)
    await press(sandbox, panel, "pause")
    await asyncio.sleep(0.3)  # discord.py sends a few frames of silence as it pauses
    paused_at = listener.packets
    await asyncio.sleep(0.6)
    assert listener.packets == paused_at
    await press(sandbox, panel, "pause")  # the same button, now "Resume"
    await listener.wait_for_packets(paused_at + 25, timeout=3)
    await hear(sandbox, 2)

    await press(sandbox, panel, "loop")  # on (as saved) -> off
    await press(sandbox, panel, "shuffle")  # off -> on
    await until(
        lambda: field(panel, "Loop") == "Off" and field(panel, "Shuffle") == "On", EDIT_WAIT, "toggles shown"
    )
    assert component(panel, "quranbot:panel:loop")["style"] == 2  # secondary: off
    assert component(panel, "quranbot:panel:shuffle")["style"] == 3  # success: on
    assert component(panel, "quranbot:panel:pause")["label"] == "Pause"


async def test_surah_menu_search_and_reciter_menu(sandbox: Sandbox, home: Path, bot: RunningBot) -> None:
    configure(sandbox, home)
    await bot.start()
    panel = await the_panel(sandbox)
    admin = sandbox.default.admin
    await hear(sandbox, 1)

    ranges = component(panel, "quranbot:panel:range")["options"]
    assert [o["value"] for o in ranges] == ["1-25", "26-50", "51-75", "76-100", "101-114"]
    chose_range = await sandbox.select(admin, panel, "quranbot:panel:range", ["1-25"])
    await chose_range.wait()
    menu = chose_range.original
    assert menu is not None and menu.ephemeral  # only the member choosing sees the range's surahs
    options = component(menu, "quranbot:panel:surah")["options"]
    assert [o["value"] for o in options] == [str(n) for n in range(1, 26)]
    picked = await sandbox.select(admin, menu, "quranbot:panel:surah", ["5"])
    await picked.wait()
    assert picked.response_type == 7 and "Playing 5. Al-Maaida" in menu.content
    await hear(sandbox, 5)

    opened = await press(sandbox, panel, "search")
    assert opened.response_type == 9
    found = await sandbox.submit_modal(admin, opened, {"query": "cattle"})  # "The Cattle": surah 6
    await found.wait()
    await hear(sandbox, 6)
    missed = await sandbox.submit_modal(admin, await press(sandbox, panel, "search"), {"query": "zzzz"})
    await missed.wait()
    assert missed.original is not None and missed.original.ephemeral
    assert missed.original.content == "No surah matches 'zzzz'."
    await asyncio.sleep(0.3)
    assert heard(sandbox) == 6

    reciters = component(panel, "quranbot:panel:reciter")["options"]
    assert [(o["value"], o["label"], o.get("default")) for o in reciters] == [
        (SAMPLE_SLUG, SAMPLE_NAME, True)
    ]
    chose = await sandbox.select(admin, panel, "quranbot:panel:reciter", [SAMPLE_SLUG])
    assert (await chose.wait())["type"] == 6
    await hear(sandbox, 6)  # the same reciter again: the surah starts over


async def test_a_member_without_the_controller_role_is_refused_and_nothing_changes(
    sandbox: Sandbox, home: Path, bot: RunningBot
) -> None:
    d = sandbox.default
    configure(sandbox, home, controller_role_id=d.controller_role.id)
    await bot.start()
    panel = await the_panel(sandbox)
    await hear(sandbox, 1)
    edits = len(panel.history)

    for control in ("next", "pause", "search"):
        refused = await press(sandbox, panel, control, who="listener")
        assert refused.response_type == 4
        assert refused.original is not None and refused.original.ephemeral
        assert f"<@&{d.controller_role.id}>" in refused.original.content
    chose = await sandbox.select(d.listener, panel, "quranbot:panel:range", ["1-25"])
    await chose.wait()
    assert chose.original is not None and "can steer" in chose.original.content
    await asyncio.sleep(1.0)
    assert heard(sandbox) == 1
    assert len(panel.history) == edits

    await sandbox.world.set_member_role(d.guild, d.listener, d.controller_role.id, add=True)
    assert (await press(sandbox, panel, "next", who="listener")).response_type == 6
    await hear(sandbox, 2)


async def test_the_panel_survives_a_restart_and_its_deletion(
    sandbox: Sandbox, home: Path, bot: RunningBot
) -> None:
    d = sandbox.default
    configure(sandbox, home)
    await bot.start()
    panel = await the_panel(sandbox)
    await hear(sandbox, 1)
    chose_range = await sandbox.select(d.admin, panel, "quranbot:panel:range", ["1-25"])
    await chose_range.wait()
    menu = chose_range.original  # a member's surah menu, left open across the restart
    assert menu is not None
    await bot.stop()
    assert saved_settings(home, d.guild.id).panel_message_id == panel.id

    # The new run's first two edits are refused, so the presses below reach messages this process has
    # neither sent nor edited: only the views registered at start (bot.add_view) can answer them.
    sandbox.faults.fail_rest(*PATCH_MESSAGE, 403, times=2)
    edits = len(panel.history)
    await bot.start()
    await until(lambda: ("PATCH", PATCH_MESSAGE[1], 403) in sandbox.rest.requests, EDIT_WAIT, "an edit")
    assert (await press(sandbox, panel, "next")).response_type == 6
    await hear(sandbox, 2)
    picked = await sandbox.select(d.admin, menu, "quranbot:panel:surah", ["5"])
    assert (await picked.wait())["type"] == 7
    await hear(sandbox, 5)
    await until(lambda: surah_line(5) in text(panel), EDIT_WAIT, "the saved panel to show surah 5")
    assert len(panel.history) > edits and panels(sandbox) == [panel]  # edited, not posted again

    await sandbox.world.delete_message(panel)
    await (await sandbox.run_command(d.admin, d.general, "next")).wait()
    await hear(sandbox, 6)
    await until(lambda: panels(sandbox), EDIT_WAIT, "a new panel")
    (reposted,) = panels(sandbox)
    assert reposted.id != panel.id and surah_line(6) in text(reposted)
    await press(sandbox, reposted, "next")
    await hear(sandbox, 7)
    await bot.stop()
    assert saved_settings(home, d.guild.id).panel_message_id == reposted.id


async def test_rapid_presses_are_coalesced_and_a_429_delays_but_keeps_the_final_state(
    sandbox: Sandbox, home: Path, bot: RunningBot
) -> None:
    configure(sandbox, home)
    await bot.start()
    panel = await the_panel(sandbox)
    await hear(sandbox, 1)
    patches = sum(1 for r in sandbox.rest.requests if r[:2] == PATCH_MESSAGE)

    for _ in range(10):  # 2, 3, ..., 7, then 1 (8–114 are not in the library), 2, 3, 4
        await press(sandbox, panel, "next")
    await hear(sandbox, 4)
    await until(lambda: surah_line(4) in text(panel), EDIT_WAIT, "the final surah on the panel")
    await asyncio.sleep(1.0)  # nothing further is pending
    edits = sum(1 for r in sandbox.rest.requests if r[:2] == PATCH_MESSAGE) - patches
    assert 1 <= edits <= 2, f"{edits} edits for 10 presses"
    assert surah_line(4) in text(panel)

    # Every try of the next edit is refused: discord.py retries 5 times, then raises; the bot waits
    # Retry-After and tries again with whatever is newest by then.
    sandbox.faults.fail_rest(*PATCH_MESSAGE, 429, times=5, retry_after=0.5)
    await press(sandbox, panel, "next")
    await until(lambda: ("PATCH", PATCH_MESSAGE[1], 429) in sandbox.rest.requests, EDIT_WAIT, "a 429")
    await press(sandbox, panel, "next")  # while the edit is being refused
    await hear(sandbox, 6)
    await until(lambda: surah_line(6) in text(panel), EDIT_WAIT, "the final state after the 429s")
    assert sandbox.rest.requests.count(("PATCH", PATCH_MESSAGE[1], 429)) == 5


async def test_panel_command_posts_the_panel_where_it_is_run(
    sandbox: Sandbox, home: Path, bot: RunningBot
) -> None:
    d = sandbox.default
    configure(sandbox, home, panel=False)
    await bot.start()
    await hear(sandbox, 1)
    assert panels(sandbox) == [] and panels(sandbox, d.general) == []  # no panel channel: no panel

    posted = await sandbox.run_command(d.admin, d.general, "panel")
    await posted.wait_for_followups()
    assert "Control panel posted" in posted.followups[0].content and posted.followups[0].ephemeral
    (panel,) = panels(sandbox, d.general)
    assert surah_line(1) in text(panel)
    await press(sandbox, panel, "next")
    await hear(sandbox, 2)
    await bot.stop()
    saved = saved_settings(home, d.guild.id)
    assert (saved.panel_channel_id, saved.panel_message_id) == (d.general.id, panel.id)
