"""`quranbot demo`: the sandbox and the bot in one process, and what the voice channel hears.

Needs no token and no internet. Without --home it works in a temporary directory and leaves nothing
behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from quranbot.audio.levels import dominant_frequency
from quranbot.audio.library import Library
from quranbot.audio.sample import SAMPLE_SLUG, surah_from_frequency, write_sample_reciter
from quranbot.audio.tone import FfmpegMissing
from quranbot.bot.runner import StartupError, run_bot
from quranbot.bot.settings import BotSettings
from quranbot.cli.context import cli_context
from quranbot.cli.output import fail
from quranbot.log_setup import configure_logging
from quranbot.paths import Paths
from quranbot.secret import Secret

if TYPE_CHECKING:
    from quranbot.sandbox.listener import ListenerStats
    from quranbot.sandbox.server import Sandbox

console = Console()

#: Each sample surah lasts this long in the demo, so a short run hears several surah boundaries.
DEMO_TONE_SECONDS = 2.0
WINDOW_SECONDS = 0.2


def demo_command(
    ctx: typer.Context,
    headless: Annotated[
        bool, typer.Option(help="No live display: print a one-line summary at the end.")
    ] = False,
    seconds: Annotated[
        float | None, typer.Option(min=1.0, help="Stop after this many seconds (default: until Ctrl+C).")
    ] = None,
) -> None:
    """Run the bot against a local Discord sandbox and show what its voice channel hears."""
    context = cli_context(ctx)
    configure_logging(context.verbose, console=None if headless else console)
    if headless and seconds is None:
        seconds = 10.0
    try:
        if context.home is not None:
            asyncio.run(_demo(context.paths, headless, seconds))
        else:
            with tempfile.TemporaryDirectory(prefix="quranbot-demo-") as tmp:
                asyncio.run(_demo(Paths.under(Path(tmp)), headless, seconds))
    except (StartupError, FfmpegMissing) as exc:
        raise fail(str(exc)) from None


async def _demo(paths: Paths, headless: bool, seconds: float | None) -> None:
    # Imported here, not at the top, so that `quranbot run` never loads the sandbox.
    from quranbot.sandbox.server import Sandbox

    library = Library(paths.audio_dir)
    if not any(r.slug == SAMPLE_SLUG for r in library.reciters()):
        await asyncio.to_thread(write_sample_reciter, paths.audio_dir, DEMO_TONE_SECONDS)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Sandbox(paths.sandbox_dir) as sandbox:
        voice = sandbox.default.voice
        await sandbox.join_voice(sandbox.default.listener, voice)  # someone is listening
        listener = sandbox.listener(voice)
        settings = BotSettings(token=Secret(sandbox.token), voice_channels=(voice.id,))
        bot = asyncio.create_task(
            run_bot(settings, paths, connector=sandbox.connector(), stop=stop, handle_signals=False)
        )
        started = time.perf_counter()
        deadline = None if seconds is None else started + seconds
        if headless:
            while not await _wait(stop, bot, deadline):
                pass
        else:
            with Live(
                _view(listener.stats(tone_seconds=WINDOW_SECONDS), sandbox, started),
                console=console,
                refresh_per_second=4,
            ) as live:
                while not await _wait(stop, bot, deadline, step=0.25):
                    live.update(_view(listener.stats(tone_seconds=WINDOW_SECONDS), sandbox, started))
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await bot  # raises StartupError if the bot could not start
        stats = listener.stats(tone_seconds=WINDOW_SECONDS)
        first = None if listener.first_packet_at is None else listener.first_packet_at - started
        heard = surahs_heard(listener.pcm())
        console.print(_summary(stats, f"#{voice.name}", first, heard), highlight=False, soft_wrap=True)


async def _wait(
    stop: asyncio.Event, bot: asyncio.Task[None], deadline: float | None, step: float = 0.5
) -> bool:
    """Sleep a step; True once the demo should end (Ctrl+C, time up, or the bot stopped)."""
    timeout = step if deadline is None else max(0.0, min(step, deadline - time.perf_counter()))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout)
    if deadline is None or time.perf_counter() < deadline:
        return stop.is_set() or bot.done()
    return True


def surahs_heard(pcm: bytes) -> list[int]:
    """The sample surahs in the audio, in order: each 0.2 s window's pitch names one (or none)."""
    window = int(WINDOW_SECONDS * 48_000) * 4  # bytes of 16-bit stereo
    heard: list[int] = []
    for start in range(0, len(pcm) - window + 1, window):
        hz = dominant_frequency(pcm[start : start + window])
        surah = None if hz is None else surah_from_frequency(hz)
        if surah is not None and (not heard or heard[-1] != surah):
            heard.append(surah)
    return heard


def _summary(stats: ListenerStats, channel: str, first_packet_s: float | None, heard: list[int]) -> str:
    median = "-" if stats.median_gap_ms is None else f"{stats.median_gap_ms:.1f}ms"
    first = "-" if first_packet_s is None else f"{first_packet_s:.2f}s"
    largest = "-" if stats.max_gap_ms is None else f"{stats.max_gap_ms:.0f} ms"
    return (
        f"demo: channel={channel} packets={stats.packets} lost={stats.lost_packets} median_gap={median} "
        f"first_audio_after={first} surahs heard: {', '.join(map(str, heard)) or '-'} largest gap: {largest}"
    )


def _meter(dbfs: float, width: int = 30) -> str:
    level = 0.0 if math.isinf(dbfs) else max(0.0, min(1.0, (dbfs + 60.0) / 60.0))
    filled = round(level * width)
    return "█" * filled + "░" * (width - filled)


def _view(stats: ListenerStats, sandbox: Sandbox, started: float) -> Panel:
    voice = sandbox.default.voice
    guild = sandbox.default.guild
    in_channel = [guild.members[uid].user.username for uid in guild.voice_members(voice.id)]
    elapsed = time.perf_counter() - started
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Channel", f"#{voice.name} in {guild.name}")
    table.add_row("In voice", ", ".join(in_channel) or "nobody yet")
    table.add_row("Packets", f"{stats.packets}  (lost {stats.lost_packets})")
    gap = (
        "-"
        if stats.median_gap_ms is None
        else f"{stats.median_gap_ms:.1f} ms median, {stats.max_gap_ms:.1f} ms max"
    )
    table.add_row("Cadence", gap)
    level = "silence" if math.isinf(stats.level_dbfs) else f"{stats.level_dbfs:.1f} dBFS"
    table.add_row("Level", f"{_meter(stats.level_dbfs)} {level}")
    surah = None if stats.dominant_hz is None else surah_from_frequency(stats.dominant_hz)
    hearing = "-" if stats.dominant_hz is None else f"{stats.dominant_hz:.1f} Hz"
    table.add_row("Hearing", hearing + (f" = sample surah {surah}" if surah else ""))
    footer = f"{elapsed:.0f} s · sandbox at {sandbox.url} · Ctrl+C to stop"
    return Panel(Group(table), title="QuranBot demo: what the voice channel hears", subtitle=footer)
