"""`quranbot tui` against the real bot on the sandbox: what the screen shows, and what the channel hears.

The app runs headless (`App.run_test`) in the test's event loop, next to the bot and the sandbox, and
talks to the bot over the real control socket. The screen is read as a person would read it: the
text of every cell, from Textual's compositor. The helpers here are shared with test_tui_*.py.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ears import wait_to_hear
from processes import as_nobody
from rich.cells import cell_len
from rich.console import Console
from running_bot import RunningBot
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from quranbot.clock import clock
from quranbot.paths import Paths
from quranbot.sandbox.model import ChannelType
from quranbot.sandbox.server import Sandbox
from quranbot.store.records import GuildPlayback, GuildSettings
from quranbot.store.state import StateStore
from quranbot.tui.app import QuranBotApp
from quranbot.tui.arabic import ArabicOrder, arabic_for_display
from quranbot.tui.log_pane import LogPane
from quranbot.tui.playhead import bar
from quranbot.tui.records import GuildNow
from quranbot.tui.stats_pane import LABEL_WIDTH

SIZE = (120, 40)


# -- shared helpers -------------------------------------------------------------------------------------
def screen_text(app: QuranBotApp) -> str:
    """Every cell of the terminal as text, the dialogs over the main screen included."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), record=True, force_terminal=True, color_system=None
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def line_with(app: QuranBotApp, text: str) -> str:
    return next(line for line in screen_text(app).splitlines() if text in line)


async def until(
    pilot: Pilot[None], check: Callable[[], object], timeout: float = 5.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            screen = screen_text(pilot.app)  # type: ignore[arg-type]
            pytest.fail(f"timed out waiting for {what or check}; the screen shows:\n{screen}")
        await pilot.pause(0.05)


async def shows(pilot: Pilot[None], *texts: str, timeout: float = 5.0) -> str:
    """Wait until the screen shows every one of `texts`; returns the screen."""
    app = pilot.app
    assert isinstance(app, QuranBotApp)
    await until(pilot, lambda: all(text in screen_text(app) for text in texts), timeout, f"{texts!r}")
    return screen_text(app)


def tui(home: Path) -> QuranBotApp:
    return QuranBotApp(Paths.under(home).control_socket, retry_interval=0.1)


def preset(home: Path, *records: GuildPlayback | GuildSettings) -> None:
    """State a fresh bot starts from (surah, loop, paused...), written with the real store."""
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        for record in records:
            if isinstance(record, GuildPlayback):
                store.set_playback(record)
            else:
                store.save_settings(record)


@pytest.fixture
def bot_logs_info(caplog: pytest.LogCaptureFixture) -> None:
    """The bot's INFO lines reach its log ring, as under `quranbot run`."""
    caplog.set_level(logging.INFO)


# -- the parts that need no bot -------------------------------------------------------------------------
def test_the_position_advances_locally_only_while_playing() -> None:
    data = {
        "guild_id": "1", "guild_name": "G", "channel_name": "Quran", "state": "playing", "reciter": "r",
        "reciter_name": "R", "surah": 18, "surah_name": "Al-Kahf", "surah_english": "The Cave",
        "surah_arabic": "الكهف", "ayah": None, "ayah_count": 110, "position": 10.0, "duration": 60.0,
        "loop": False, "shuffle": False, "listeners": [], "sent_at": 1.0,
    }  # fmt: skip
    playing = GuildNow.from_json(data, received_at=100.0)
    assert playing.elapsed(102.5) == 12.5 and playing.elapsed(1000.0) == 60.0  # never past the end
    paused = GuildNow.from_json({**data, "state": "paused"}, received_at=100.0)
    assert paused.elapsed(102.5) == 10.0
    assert clock(12.5) == "0:12" and clock(3723) == "1:02:03"
    assert bar(15, 60, 20) == ("━" * 5, "─" * 15) and bar(5, 0, 4) == ("", "────")


def test_visual_order_reverses_letters_and_keeps_marks_on_them() -> None:
    assert arabic_for_display("آل عمران", ArabicOrder.VISUAL) == "نارمع لآ"
    assert arabic_for_display("بِسْمِ", ArabicOrder.VISUAL) == "مِسْبِ"  # each mark stays after its letter
    assert arabic_for_display("الفاتحة", ArabicOrder.LOGICAL) == "الفاتحة"


# -- against the bot ------------------------------------------------------------------------------------
async def test_now_playing_next_pause_resume_and_reconnecting_as_heard(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    preset(home, GuildPlayback(default.guild.id, surah=1, loop=True))  # surah 1 holds still until `n`
    await sandbox.join_voice(default.listener, default.voice)
    listener = sandbox.listener(default.voice)
    async with (
        RunningBot(sandbox, home, voice_channels=(default.voice.id,)),
        tui(home).run_test(size=SIZE) as pilot,
    ):
        screen = await shows(pilot, "1. Al-Faatiha", "الفاتحة", "▶ playing", timeout=15)
        assert "The Opening · 7 ayahs" in screen and "Sample tones (not a recitation)" in screen
        assert "Listeners (1)  listener" in screen and "loop on · shuffle off" in screen
        assert "Sandbox Guild · #Quran" in screen and "connected: bot 0.1.0" in screen

        await pilot.press("n")
        await wait_to_hear(listener, 2, timeout=3)
        await shows(pilot, "2. Al-Baqara", "البقرة", "The Cow · 286 ayahs", "Skipped to the next surah")

        await pilot.press("space")
        await shows(pilot, "‖ paused", "Resume")
        await asyncio.sleep(0.3)
        mark = listener.packets
        await asyncio.sleep(0.5)
        assert listener.packets - mark <= 5
        await pilot.press("space")
        await listener.wait_for_packets(mark + 20, timeout=3)
        await shows(pilot, "▶ playing")
        await wait_to_hear(listener, 2, timeout=3)

        # the stats pane, from the stats topic: about 50 packets a second while one guild plays
        await until(pilot, lambda: 40 <= packets_per_second(pilot.app) <= 60, what="packets/s near 50")

        await sandbox.faults.kick_from_voice(default.guild)  # the watchdog brings it back by itself
        await shows(pilot, "… reconnecting")
        recovered = "Recoveries".ljust(LABEL_WIDTH) + "1"
        await shows(pilot, "▶ playing", "voice connected, 1 recovery", recovered, timeout=15)


def packets_per_second(app: object) -> float:
    assert isinstance(app, QuranBotApp)
    found = re.search(r"Packets/s\s+([\d.]+)", screen_text(app))
    return float(found.group(1)) if found else -1.0


async def test_arabic_reaches_the_screen_in_logical_order_one_cell_per_letter(
    sandbox: Sandbox, home: Path
) -> None:
    default = sandbox.default
    preset(home, GuildPlayback(default.guild.id, surah=3, loop=True, paused=True))
    async with (
        RunningBot(sandbox, home, voice_channels=(default.voice.id,)),
        tui(home).run_test(size=SIZE) as pilot,
    ):
        await shows(pilot, "3. Aal-i-Imraan", timeout=15)
        line = line_with(pilot.app, "3. Aal-i-Imraan")  # type: ignore[arg-type]
        # Logical order, exactly as the bot sent it, at the right end of its row; the row keeps its
        # width in cells (the border stays in its column), so each Arabic letter took one cell.
        assert re.search(r"3\. Aal-i-Imraan +آل عمران │", line)
        assert cell_len(line) == SIZE[0] and len(line) == SIZE[0]
        await pilot.press("a")  # for terminals without bidi: the same cells, reversed
        await shows(pilot, "نارمع لآ │")
        line = line_with(pilot.app, "3. Aal-i-Imraan")  # type: ignore[arg-type]
        assert "آل عمران" not in line and cell_len(line) == SIZE[0]
        await pilot.press("a")
        await shows(pilot, "آل عمران │")


async def test_the_surah_picker_jumps_to_the_chosen_surah_as_heard(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    preset(home, GuildPlayback(default.guild.id, surah=1, loop=True))
    listener = sandbox.listener(default.voice)
    async with (
        RunningBot(sandbox, home, voice_channels=(default.voice.id,)),
        tui(home).run_test(size=SIZE) as pilot,
    ):
        await shows(pilot, "1. Al-Faatiha", timeout=15)
        await pilot.press("slash")
        await shows(pilot, "Recite a surah", "  1. Al-Faatiha      The Opening")
        choices = pilot.app.screen.query_one(OptionList)
        assert choices.option_count == 114  # all of them, from the Tanzil data
        await pilot.press("escape")
        await until(pilot, lambda: "Recite a surah" not in screen_text(pilot.app))  # type: ignore[arg-type]

        await pilot.press("g")
        await until(pilot, lambda: isinstance(pilot.app.focused, Input), what="the picker's query box")
        await pilot.press(*"maida")  # a typo: the autocomplete's search forgives it
        await until(pilot, lambda: pilot.app.screen.query_one(OptionList).option_count < 114)
        await shows(pilot, "  5. Al-Maaida       The Table")
        await pilot.press("enter")  # the best match is highlighted
        await wait_to_hear(listener, 5, timeout=3)
        await shows(pilot, "5. Al-Maaida", "المائدة", "Playing 5. Al-Maaida")


async def test_the_log_pane_shows_the_bots_lines_and_narrows_them(
    sandbox: Sandbox, home: Path, bot_logs_info: None
) -> None:
    default = sandbox.default
    async with (
        RunningBot(sandbox, home, voice_channels=(default.voice.id,)),
        tui(home).run_test(size=SIZE) as pilot,
    ):
        await shows(pilot, "Reciting in", timeout=15)
        logging.getLogger("quranbot.test").warning("a warning for the TUI, token %s", sandbox.token)
        await shows(pilot, "a warning for the TUI, token ********")
        pane = pilot.app.screen.query_one(LogPane)
        everything = len(pane.shown())

        await pilot.press("v", "v")  # DEBUG -> INFO -> WARNING
        await shows(pilot, "Level ≥ WARNING")
        assert "Reciting in" not in screen_text(pilot.app)  # type: ignore[arg-type]
        assert all(entry.levelno >= logging.WARNING for entry in pane.shown()) and pane.shown()
        await pilot.press("v", "v")  # ERROR, then back to DEBUG
        await shows(pilot, "Level ≥ DEBUG", "Reciting in")

        await pilot.press("f", *"reciting")  # keys go to the search box now, not to the controls
        await until(pilot, lambda: 0 < len(pane.shown()) < everything, what="the search to narrow the log")
        assert all("reciting" in entry.message.casefold() for entry in pane.shown())
        screen = await shows(pilot, f"{len(pane.shown())} of ")
        assert "a warning for the TUI" not in screen and "Reciting in" in screen
        await pilot.press("escape")
        assert pilot.app.focused is None  # the keys steer the bot again
        assert sandbox.token not in screen_text(pilot.app)  # type: ignore[arg-type]


async def test_it_starts_before_the_bot_and_follows_its_restarts(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    async with tui(home).run_test(size=SIZE) as pilot:
        await shows(pilot, "disconnected, retrying every 0.1 s", "QuranBot is not running")
        async with RunningBot(sandbox, home, voice_channels=(default.voice.id,)):
            await shows(pilot, "connected: bot", "▶ playing", timeout=15)
        await shows(pilot, "disconnected, retrying", "■ disconnected (last known)")
        assert "▶ playing" not in screen_text(pilot.app)  # type: ignore[arg-type]
        async with RunningBot(sandbox, home, voice_channels=(default.voice.id,)):
            await shows(pilot, "connected: bot", "▶ playing", timeout=15)
            await pilot.press("l")
            await shows(pilot, "loop on")  # and it steers the new bot


def add_reciter_copy(home: Path, slug: str, name: str) -> None:
    """Another reciter in the library: the sample's files under a new folder and manifest."""
    audio = Paths.under(home).audio_dir
    shutil.copytree(audio / "sample-tones", audio / slug)
    manifest = json.loads((audio / slug / "manifest.json").read_text())
    (audio / slug / "manifest.json").write_text(json.dumps({**manifest, "slug": slug, "name": name}))


async def test_a_refused_command_shows_the_bots_own_message(sandbox: Sandbox, home: Path) -> None:
    default = sandbox.default
    app = tui(home)
    async with (
        RunningBot(sandbox, home, voice_channels=(default.voice.id,)),
        app.run_test(size=SIZE, notifications=True) as pilot,
    ):
        await shows(pilot, "▶ playing", timeout=15)
        add_reciter_copy(home, "second-tones", "Second tones")  # imported while the bot runs
        await pilot.press("r")
        await until(pilot, lambda: isinstance(pilot.app.focused, Input), what="the picker's query box")
        await shows(pilot, "Change reciter", "Sample tones (not a recitation)  sample-tones  (playing)",
                    "Second tones  second-tones")  # fmt: skip
        await pilot.press(*"nobody")
        await until(pilot, lambda: pilot.app.screen.query_one(OptionList).option_count == 0)
        await pilot.press("enter")
        screen = await shows(pilot, "QuranBot refused")
        assert "nobody" in screen


async def test_each_guild_has_a_tab_and_the_controls_steer_the_selected_one(
    sandbox: Sandbox, home: Path
) -> None:
    default, world = sandbox.default, sandbox.world
    second = world.add_guild("Second Guild", world.new_user("owner2"))
    second.members[default.bot.user.id] = default.bot
    hall = world.add_channel(second, "Hall", ChannelType.VOICE)
    preset(
        home,
        GuildPlayback(default.guild.id, surah=1, loop=True),
        GuildPlayback(second.id, surah=6, loop=True),
        GuildSettings(second.id, voice_channel_id=hall.id),
    )
    quran, hall_listener = sandbox.listener(default.voice), sandbox.listener(hall)
    async with (
        RunningBot(sandbox, home, voice_channels=(default.voice.id,)),
        tui(home).run_test(size=SIZE) as pilot,
    ):
        await shows(
            pilot, "▶ Sandbox Guild", "▶ Second Guild", "Sandbox Guild · #Quran", "tab Guild", timeout=15
        )
        await pilot.press("tab")
        await shows(pilot, "Second Guild · #Hall", "6. Al-An'aam", "الأنعام")
        await pilot.click("#button-next")  # the mouse steers the selected guild too
        await wait_to_hear(hall_listener, 7, timeout=3)
        await shows(pilot, "7. Al-A'raaf")
        await wait_to_hear(quran, 1, timeout=2)  # the other guild carries on as it was
        await pilot.press("tab")  # and back
        await shows(pilot, "Sandbox Guild · #Quran", "1. Al-Faatiha")


async def screen_once_it_shows(app: QuranBotApp, text: str) -> str:
    async with app.run_test(size=SIZE) as pilot:
        return await shows(pilot, text)


def test_a_user_who_may_not_use_the_socket_is_told_so(short_tmp: Path) -> None:
    """As `nobody`, for real: the socket's directory is closed to them, as /run/quranbot is to a user
    outside the bot's group. (A forked child: the venv's interpreter lives under /root, so nobody could
    not start one. The parent runs the same app first, so the child needs to import nothing.) The path
    is short so that the whole sentence fits the screen's width, wherever pytest keeps its files."""
    if os.geteuid() != 0:
        pytest.fail("this test drops privileges for real and needs root (CI runs as root)")
    private = short_tmp / "private"
    private.mkdir(mode=0o700)
    socket = private / "run" / "control.sock"
    asyncio.run(screen_once_it_shows(QuranBotApp(socket, retry_interval=0.1), "disconnected, retrying"))
    screen = as_nobody(
        lambda: asyncio.run(screen_once_it_shows(QuranBotApp(socket, retry_interval=0.1), "not allowed")),
        timeout=30,
    )
    assert "not allowed, retrying every 0.1 s: not allowed to use" in screen, screen
    assert "Not allowed to use the control socket." in screen and "a member of its group" in screen


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temporary directory with a short path (pytest's own grow with parallel workers)."""
    directory = Path(tempfile.mkdtemp(prefix="qb-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def test_it_runs_inside_a_program_that_already_runs_the_bot(sandbox: Sandbox, home: Path) -> None:
    """As `quranbot demo` uses it: the bot on this loop, then `await app.run_async()` on the same loop."""
    default = sandbox.default
    preset(home, GuildPlayback(default.guild.id, surah=1, loop=True))
    app = QuranBotApp(Paths.under(home).control_socket, retry_interval=0.1, title_note="demo")
    seen: list[str] = []

    async def watch_then_quit(pilot: Pilot[None]) -> None:
        await shows(pilot, "QuranBot (demo)  connected: bot", "▶ playing", timeout=15)
        seen.append(screen_text(app))
        await pilot.press("q")

    async with RunningBot(sandbox, home, voice_channels=(default.voice.id,)):
        await asyncio.wait_for(app.run_async(headless=True, size=SIZE, auto_pilot=watch_then_quit), 30)
        assert Paths.under(home).control_socket.exists()  # quitting the TUI leaves the bot running
    assert seen and "1. Al-Faatiha" in seen[0]
