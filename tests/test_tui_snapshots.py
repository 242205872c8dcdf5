"""Snapshots of the TUI's main screens, as text: the whole terminal, cell for cell, against a file.

The screens are taken in states that hold still (the bot paused at a known surah, no bot at all, a
dialog), and the values that change by themselves (uptime, CPU, memory, clock times, pids, the
backup's time stamp, the temporary path) are masked in place, keeping every line's width, so a
snapshot is the same on every run and machine. Layout, labels, the Arabic and the borders are not
masked: a change there fails the test and shows the difference.

To accept a deliberate change: QURANBOT_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest
tests/test_tui_snapshots.py (it rewrites the files and warns; review the diff before committing).
"""

from __future__ import annotations

import datetime
import difflib
import getpass
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from running_bot import RunningBot
from test_tui import SIZE, preset, screen_text, shows, tui, until
from textual.pilot import Pilot
from textual.widgets import Input

from quranbot.config.timezones import system_timezone
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox
from quranbot.store.records import GuildPlayback
from quranbot.store.state import StateStore
from quranbot.tui.app import QuranBotApp
from quranbot.tui.stats_pane import LABEL_WIDTH

SNAPSHOTS = Path(__file__).parent / "snapshots" / "tui"
UPDATE = os.environ.get("QURANBOT_UPDATE_SNAPSHOTS") == "1"

Mask = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def keep_width(replacement: str, fill: str = " ", side: str = "right") -> Callable[[re.Match[str]], str]:
    """Replace a match with a fixed text, padded to the match's own width, so nothing else moves."""

    def replace(match: re.Match[str]) -> str:
        width = len(match.group(0))
        return replacement.ljust(width, fill) if side == "right" else replacement.rjust(width, fill)

    return replace


def _stat(label: str) -> Mask:
    """A stats row's value, from the value column to the pane's edge."""
    return re.compile(rf"(?<=│ {re.escape(label.ljust(LABEL_WIDTH))})[^│]+"), keep_width("(varies)")


MASKS: list[Mask] = [
    *(_stat(label) for label in ("Uptime", "CPU", "Memory", "Packets sent", "Gateway", "Last backup")),
    (re.compile(r"quranbot-backup-\d{8}T\d{6}Z\.zip"), keep_width("quranbot-backup-YYYYMMDDTHHMMSSZ.zip")),
    (re.compile(r"─+ pid \d+ ─╯"), keep_width(" pid N ─╯", "─", "left")),
    (re.compile(r"pid \d+ *$"), keep_width("pid N")),
    (re.compile(r"(?<=│)\d\d:\d\d:\d\d "), keep_width("HH:MM:SS ")),
    (re.compile(r" +\d+ of \d+ lines"), keep_width(" N of M lines", side="left")),
    (re.compile(r"(?<=/tmp/quranbot-tui-)[^/…]{1,8}"), lambda m: "*" * len(m.group(0))),
    # who steered it: the login running the tests
    (
        re.compile(rf"\b{re.escape(getpass.getuser())} \(terminal\)\)? *(?=│)"),
        lambda m: keep_width("USER (terminal)" + (")" if m.group(0).rstrip().endswith("))") else ""))(m),
    ),
]


def normalised(screen: str) -> str:
    lines = []
    for line in screen.splitlines():
        for pattern, replace in MASKS:
            line = pattern.sub(replace, line)
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"


async def settled(pilot: Pilot[None], take: Callable[[], str], *texts: str, timeout: float = 15.0) -> str:
    """The screen once it shows `texts` and stays the same (after masking) for half a second."""
    await until(pilot, lambda: all(text in take() for text in texts), timeout, f"{texts!r}")
    previous = ""
    for _ in range(int(timeout / 0.5)):
        current = take()
        if current == previous:
            return current
        previous = current
        await pilot.pause(0.5)
    pytest.fail(f"the screen kept changing:\n{previous}")


def check(name: str, screen: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(screen, encoding="utf-8")
        warnings.warn(f"wrote {path}: review the change before committing it", stacklevel=2)
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path}; make it with QURANBOT_UPDATE_SNAPSHOTS=1")
    expected = path.read_text(encoding="utf-8")
    if screen != expected:
        diff = difflib.unified_diff(
            expected.splitlines(), screen.splitlines(), "snapshot", "screen", lineterm=""
        )
        pytest.fail(f"{name} differs from {path}:\n" + "\n".join(diff))


def listened_today(home: Path, guild_id: int, *members: tuple[int, float]) -> None:
    """Listening already kept for today (the bot's local date): (user id, seconds) each."""
    day = datetime.datetime.now(ZoneInfo(system_timezone())).date().isoformat()
    paths = Paths.under(home)
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        for user_id, seconds in members:
            live = store.buffered_listening(guild_id, user_id)
            live.daily, live.seconds = {day: seconds}, seconds


@pytest.fixture
def short_home(home: Path) -> Iterator[Path]:
    """The home at a path of fixed length (/tmp/quranbot-tui-XXXXXXXX), so it can be masked in place."""
    directory = tempfile.mkdtemp(prefix="quranbot-tui-", dir="/tmp")
    try:
        target = Path(directory) / "home"
        shutil.copytree(home, target)
        yield target
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def test_snapshot_paused_at_a_known_surah(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Paused, then sent to surah 3: a paused jump opens the surah at 0:00 and stays paused, so every
    field is known. (A bot that starts paused has not opened its reciter yet: less to see.)"""
    caplog.set_level(logging.INFO)  # the bot's INFO lines reach its log ring, as under `quranbot run`
    default = sandbox.default
    preset(home, GuildPlayback(default.guild.id, reciter="sample-tones", surah=1, loop=True))
    # the listener, named; and a member the bot does not know, shown by id (cut to fit the pane)
    listened_today(home, default.guild.id, (default.listener.user.id, 3725.0), (300000000000000001, 600.0))
    await sandbox.join_voice(default.listener, default.voice)
    app = tui(home)
    async with (
        RunningBot(sandbox, home, voice_channels=(default.voice.id,)),
        app.run_test(size=SIZE) as pilot,
    ):
        await shows(pilot, "▶ playing", timeout=15)
        await pilot.press("space")
        await shows(pilot, "‖ paused")
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.focused, Input), what="the picker's query box")
        await pilot.press("3", "enter")
        packets = "Packets/s".ljust(LABEL_WIDTH) + "0.0"
        await shows(pilot, "3. Aal-i-Imraan", "Playing 3. Aal-i-Imraan", packets)
        backed_up = re.compile(re.escape("Last backup".ljust(LABEL_WIDTH)) + r"\d+ s ago")  # made at start
        await until(pilot, lambda: backed_up.search(screen_text(app)), what="the first backup")
        await pilot.press("f", *"terminal", "escape")
        screen = await settled(
            pilot,
            lambda: normalised(screen_text(app)),
            "Listeners (1)",
            "voice connected",
            "by USER (terminal)",
            "Listening today".ljust(LABEL_WIDTH) + "1.2 h · 2 listeners",
            "Top this week".ljust(LABEL_WIDTH) + "listener ",  # named once the guild has loaded
        )
    check("paused", screen)


async def test_snapshot_waiting_for_the_bot(short_home: Path) -> None:
    app = tui(short_home)
    async with app.run_test(size=SIZE) as pilot:
        screen = await settled(pilot, lambda: normalised(screen_text(app)), "disconnected, retrying")
    assert (
        str(short_home.parent) not in screen and "/tmp/quranbot-tui-********/home/run/control.sock" in screen
    )
    check("disconnected", screen)


def dialog_text(app: QuranBotApp) -> str:
    """The dialog's own cells (what shows through around it is the live main screen)."""
    region = app.screen.query_one("Vertical").region
    rows = screen_text(app).splitlines()[region.y : region.bottom]
    return "\n".join(row[region.x : region.right].rstrip() for row in rows) + "\n"


async def test_snapshot_surah_picker(short_home: Path) -> None:
    app = tui(short_home)  # the dialog needs no bot; choosing would send the surah
    async with app.run_test(size=SIZE) as pilot:
        await shows(pilot, "disconnected")
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.focused, Input), what="the picker's query box")
        full = await settled(pilot, lambda: dialog_text(app), "18. Al-Kahf")
        check("surah_picker", full)
        await pilot.press(*"ya")
        narrowed = await settled(pilot, lambda: dialog_text(app), "36. Yaseen")
        check("surah_picker_ya", narrowed)
