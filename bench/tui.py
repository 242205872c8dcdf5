"""What `quranbot tui` costs and how fast it follows the bot, in a real terminal (tmux, 120x40).

The sandbox runs in this process; the bot is `quranbot run` in a child process; the TUI is
`quranbot --home H tui` in a tmux session on a tmux server of its own. The library is the sample
reciter (surahs 1-12, 4 s tones) with loop on, so a surah changes only when asked.

latency  A second control client sends `control play surah=N`; the clock stops when the TUI's screen,
         as `tmux capture-pane` shows it, names surah N. So it includes the bot, the socket, the TUI,
         the terminal output and tmux, plus the polling (one capture every ~3 ms). Baseline in the
         same run: the control request's own round trip (the reply), with no screen involved.
cpu      The TUI process's utime+stime from /proc over a window: the bot paused (idle), playing,
         and stopped (the TUI retrying every second). Baseline in the same run: an empty Textual app
         (a Static and a Footer) in the same kind of tmux session.

Reproduce: .venv/bin/python bench/tui.py [--tries 40] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
SURAHS = range(1, 13)
TONE_SECONDS = 4.0
EMPTY_APP = (
    "from textual.app import App\n"
    "from textual.widgets import Footer, Static\n"
    "class Empty(App):\n"
    "    BINDINGS = [('q', 'quit', 'Quit')]\n"
    "    def compose(self):\n"
    "        yield Static('an empty Textual app')\n"
    "        yield Footer()\n"
    "Empty().run()\n"
)


def note(message: str) -> None:
    """Progress on stderr, so stdout holds only the results."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (and of children it reaped), from /proc."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # fields[0] is stat field 3
    return sum(int(value) for value in fields[11:15]) / CLK_TCK


#: The tmux server passes its environment to the programs it runs: COLUMNS/LINES (set when the caller
#: ran without a terminal) would override the session's real 120x40 for Textual.
TMUX_ENV = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}
TMUX_ENV["LANG"] = "C.UTF-8"


class Tmux:
    """A tmux server of our own (-L), one 120x40 session per program, no status line."""

    def __init__(self) -> None:
        self.server = f"quranbot-bench-{os.getpid()}"

    async def run(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            "tmux", "-u", "-L", self.server, *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=TMUX_ENV,
        )  # fmt: skip
        out, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {err.decode().strip()}")
        return out.decode()

    async def start(self, name: str, command: Sequence[str]) -> int:
        """Start `command` in session `name`; its pid (exec'd, so the pane's process is the program)."""
        await self.run(
            "new-session", "-d", "-s", name, "-x", "120", "-y", "40", "exec " + shlex.join(command),
            ";", "set-option", "-t", name, "status", "off",
        )  # fmt: skip
        return int((await self.run("display-message", "-p", "-t", name, "#{pane_pid}")).strip())

    async def screen(self, name: str) -> str:
        return await self.run("capture-pane", "-p", "-t", name)

    async def until_shows(self, name: str, text: str, timeout: float = 20.0, poll: float = 0.05) -> float:
        """Wait for `text` on the screen; returns when it was first seen (perf_counter)."""
        deadline = time.perf_counter() + timeout
        while True:
            if text in await self.screen(name):
                return time.perf_counter()
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{name} never showed {text!r}:\n{await self.screen(name)}")
            await asyncio.sleep(poll)

    async def kill_session(self, name: str) -> None:
        with contextlib.suppress(RuntimeError):
            await self.run("kill-session", "-t", name)

    async def kill(self) -> None:
        with contextlib.suppress(RuntimeError):
            await self.run("kill-server")
        socket_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp"), f"tmux-{os.getuid()}")
        (socket_dir / self.server).unlink(missing_ok=True)  # a server that exited leaves its socket


async def cpu_percent(pid: int, seconds: float) -> float:
    start, at = cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(seconds)
    return (cpu_seconds(pid) - start) / (time.perf_counter() - at) * 100


def quantiles(values: Sequence[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.1f}   p90 {p90:7.1f}   max {ordered[-1]:7.1f}"


async def run(args: argparse.Namespace) -> None:
    # Imported here so `--help` is instant.
    from quranbot.audio.sample import write_sample_reciter
    from quranbot.control.client import ControlClient
    from quranbot.paths import Paths
    from quranbot.quran.metadata import load_metadata
    from quranbot.sandbox.server import Sandbox
    from quranbot.store.records import GuildPlayback
    from quranbot.store.state import StateStore

    tmp = Path(tempfile.mkdtemp(prefix="quranbot-bench-tui-"))
    tmux = Tmux()
    bot: asyncio.subprocess.Process | None = None
    try:
        home = tmp / "home"
        paths = Paths.under(home)
        note("making the sample reciter")
        await asyncio.to_thread(write_sample_reciter, paths.audio_dir, TONE_SECONDS, SURAHS)
        async with Sandbox(tmp / "sandbox") as sandbox:
            default = sandbox.default
            with StateStore(paths.state_dir, paths.backups_dir) as store:
                store.set_playback(
                    GuildPlayback(default.guild.id, reciter="sample-tones", surah=1, loop=True)
                )

            note(f"baseline: an empty Textual app, idle, {args.seconds:g} s")
            empty_pid = await tmux.start("empty", [sys.executable, "-c", EMPTY_APP])
            await tmux.until_shows("empty", "an empty Textual app")
            await asyncio.sleep(1)
            empty_cpu = await cpu_percent(empty_pid, args.seconds)
            await tmux.kill_session("empty")

            note("starting the bot and the TUI")
            bot = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "quranbot", "--home", str(home), "run", "--sandbox", sandbox.url,
                "--sandbox-cert", str(sandbox.cert_file), "--token-file", str(sandbox.directory / "token"),
                "--voice-channel", str(default.voice.id),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            tui_pid = await tmux.start("tui", [sys.executable, "-m", "quranbot", "--home", str(home), "tui"])
            await sandbox.listener(default.voice).wait_for_packets(20, timeout=30)
            await tmux.until_shows("tui", "▶ playing")
            client = await ControlClient.connect(paths.control_socket)

            note(f"latency: {args.tries} surah changes")
            screen_ms, reply_ms = [], []
            names = {s.number: s.name for s in load_metadata().surahs}
            for attempt in range(args.tries):
                surah = SURAHS[(attempt + 1) % len(SURAHS)]
                await asyncio.sleep(0.3)  # let the previous change settle
                sent = time.perf_counter()
                await client.call("control", action="play", surah=surah)
                replied = time.perf_counter()
                seen = await tmux.until_shows("tui", f"{surah}. {names[surah]} ", timeout=5, poll=0)
                screen_ms.append((seen - sent) * 1000)
                reply_ms.append((replied - sent) * 1000)

            note(f"cpu: the TUI while the bot plays, {args.seconds:g} s")
            await asyncio.sleep(1)
            playing_cpu = await cpu_percent(tui_pid, args.seconds)
            note(f"cpu: the TUI while the bot is paused, {args.seconds:g} s")
            await client.call("control", action="pause")
            await tmux.until_shows("tui", "‖ paused")
            await asyncio.sleep(1)
            paused_cpu = await cpu_percent(tui_pid, args.seconds)
            await client.close()

            note(f"cpu: the TUI with the bot stopped (retrying every 1 s), {args.seconds:g} s")
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 30)
            await tmux.until_shows("tui", "disconnected, retrying")
            await asyncio.sleep(1)
            stopped_cpu = await cpu_percent(tui_pid, args.seconds)

        python = sys.version.split()[0]
        print(f"TUI in tmux 120x40, Textual {textual_version()}, Python {python}, {os.cpu_count()} cores")
        print(f"event to screen, ms, {args.tries} surah changes (control request sent -> tmux shows it)")
        print(f"  TUI screen (tmux capture-pane)      {quantiles(screen_ms)}")
        print(f"  baseline: the control reply alone   {quantiles(reply_ms)}")
        print(f"CPU of the TUI process, % of one core, {args.seconds:g} s each")
        print(f"  baseline: empty Textual app, idle   {empty_cpu:6.2f}")
        print(f"  TUI, bot paused (idle)              {paused_cpu:6.2f}")
        print(f"  TUI, bot playing                    {playing_cpu:6.2f}")
        print(f"  TUI, bot stopped (retrying)         {stopped_cpu:6.2f}")
        print(f"reproduce: .venv/bin/python bench/tui.py --tries {args.tries} --seconds {args.seconds:g}")
    finally:
        await tmux.kill()
        if bot is not None and bot.returncode is None:
            bot.kill()
            await bot.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def textual_version() -> str:
    from importlib.metadata import version

    return version("textual")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tries", type=int, default=40, help="surah changes timed (default 40)")
    parser.add_argument("--seconds", type=float, default=20.0, help="each CPU window (default 20)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
