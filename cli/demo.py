"""`quranbot demo`: the whole product in one command, with no token and no internet.

It starts the sandbox (a local Discord), generates the sample reciter if missing, runs the real bot in
a sandbox guild with a simulated listener in the voice channel, and opens the TUI on it, as an admin
would see a real server. On the way out (q in the TUI, or --headless --seconds N) it prints what the
voice channel heard, identified from the audio itself. Without --home it works in a temporary directory
and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

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

console = Console()

#: Each sample surah lasts this long in the demo, so a short run hears several surah boundaries.
DEMO_TONE_SECONDS = 2.0
WINDOW_SECONDS = 0.2


def demo_command(
    ctx: typer.Context,
    headless: Annotated[
        bool, typer.Option(help="No TUI: run for --seconds and print a one-line summary (for scripts).")
    ] = False,
    seconds: Annotated[
        float | None, typer.Option(min=1.0, help="Stop after this many seconds (default: when you quit).")
    ] = None,
) -> None:
    """Run the bot against a local Discord sandbox and watch it in the TUI."""
    context = cli_context(ctx)
    configure_logging(context.verbose, to_terminal=headless)  # the TUI shows the log itself
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
            await _watch_in_tui(paths, stop, bot, deadline, sandbox.url)
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


async def _watch_in_tui(
    paths: Paths, stop: asyncio.Event, bot: asyncio.Task[None], deadline: float | None, url: str
) -> None:
    """`quranbot tui` on the bot's control socket until the admin quits it, time is up, or the bot stops.

    The TUI runs as a child process on this terminal, as an admin would run it beside a service: its
    rendering then never delays the bot's event loop, nor the sandbox's ears that time each packet.
    """
    note = f"demo · sandbox Discord at {url} · q quits"
    tui = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quranbot", "tui", "--socket", str(paths.control_socket), "--title", note
    )
    waiting = asyncio.create_task(tui.wait())
    while not waiting.done() and not await _wait(stop, bot, deadline, step=0.25):
        pass
    if not waiting.done():
        tui.terminate()
    await waiting


def _summary(stats: ListenerStats, channel: str, first_packet_s: float | None, heard: list[int]) -> str:
    median = "-" if stats.median_gap_ms is None else f"{stats.median_gap_ms:.1f}ms"
    first = "-" if first_packet_s is None else f"{first_packet_s:.2f}s"
    largest = "-" if stats.max_gap_ms is None else f"{stats.max_gap_ms:.0f} ms"
    return (
        f"demo: channel={channel} packets={stats.packets} lost={stats.lost_packets} median_gap={median} "
        f"first_audio_after={first} surahs heard: {', '.join(map(str, heard)) or '-'} largest gap: {largest}"
    )
