"""What /metrics costs one stream: the bot's CPU and its packet cadence with metrics on and off, one run
after the other in the same sandbox, plus the per-frame stamp itself, timed alone.

Each run is `python -m quranbot run --sandbox ...` as a child process (the real CLI; `--metrics
127.0.0.1:PORT` for "on"), reciting the sample reciter to the sandbox in this process. CPU is utime+stime
of the child from /proc over a steady window (bench/playback.py's `Reading`); the cadence is the gaps
between packet arrivals at the sandbox in the same window. With metrics on, this script scrapes /metrics
every `--scrape-every` seconds during the window (Prometheus' default is 15 s; the default here, 1 s, is
a harsh case), so "on" includes the scrapes. Off and on alternate, and which goes first swaps each run,
so a machine that gets busier affects both. The sandbox times packets without decoding them (as
playback.py's --no-decode) so its own work competes less with the bot.

Reproduce: .venv/bin/python bench/metrics.py [--seconds 20] [--runs 3] [--scrape-every 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playback import Reading, make_listener_classes, note, p99

SURAHS = 4
TRACK_SECONDS = 60.0


@dataclass
class Run:
    metrics: bool
    cpu_percent: float
    gaps_ms: list[float]
    scrapes_ms: list[float] = field(default_factory=list)
    scrape_bytes: int = 0

    @property
    def p99(self) -> float:
        return p99(self.gaps_ms)

    @property
    def median(self) -> float:
        return statistics.median(self.gaps_ms)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tick_cost_ns(count: int = 200_000) -> tuple[float, float]:
    """ns per `FrameClock.tick()` (what metrics add to each 20 ms frame), and per bare perf_counter()."""
    from quranbot.metrics.voice import VoiceStats

    clock = VoiceStats().clock()
    best_tick = best_bare = float("inf")
    for _ in range(5):
        started = time.perf_counter_ns()
        for _ in range(count):
            clock.tick()
        best_tick = min(best_tick, (time.perf_counter_ns() - started) / count)
        started = time.perf_counter_ns()
        for _ in range(count):
            time.perf_counter()
        best_bare = min(best_bare, (time.perf_counter_ns() - started) / count)
    return best_tick, best_bare


def scrape(port: int) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        body = answer.read()
    return (time.perf_counter() - started) * 1000, len(body)


async def one_run(args: argparse.Namespace, sandbox: Any, listener_class: Any, home: Path, on: bool) -> Run:
    voice = sandbox.default.voice
    listener = listener_class(voice.id, keep_audio=False)
    sandbox.voice.listeners[voice.id] = listener
    port = free_port()
    argv = [sys.executable, "-m", "quranbot", "--home", str(home), "run", "--sandbox", sandbox.url]
    argv += ["--sandbox-cert", str(sandbox.cert_file), "--token-file", str(sandbox.directory / "token")]
    argv += ["--voice-channel", str(voice.id)]
    if on:
        argv += ["--metrics", f"127.0.0.1:{port}"]
    log = (home / "bot.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env={**os.environ, "NO_COLOR": "1"}
    )
    log.close()
    scrapes: list[float] = []
    size = 0
    try:
        deadline = time.monotonic() + 40
        while listener.first_packet_at is None:
            if time.monotonic() > deadline or process.returncode is not None:
                raise RuntimeError("the bot sent nothing:\n" + (home / "bot.log").read_text()[-2000:])
            await asyncio.sleep(0.05)
        await asyncio.sleep(args.warmup)
        first = len(listener.arrivals)
        start = Reading.take(process.pid)
        end_at = time.monotonic() + args.seconds
        while (left := end_at - time.monotonic()) > 0:
            if on:
                took, size = await asyncio.to_thread(scrape, port)
                scrapes.append(took)
            await asyncio.sleep(min(left, args.scrape_every))
        end = Reading.take(process.pid)
        last = len(listener.arrivals)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 20)
    arrivals = listener.arrivals
    gaps = [(arrivals[i] - arrivals[i - 1]) * 1000 for i in range(first + 1, last)]
    return Run(on, end.percent_since(start)["bot"], gaps, scrapes, size)


async def run(args: argparse.Namespace) -> list[Run]:
    import shutil

    from quranbot.audio.sample import write_sample_reciter
    from quranbot.paths import Paths
    from quranbot.sandbox.server import Sandbox

    _, deaf = make_listener_classes()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="quranbot-metrics-bench-") as folder:
        tmp = Path(folder)
        library = tmp / "library" / "audio"
        note("making the sample library")
        write_sample_reciter(library, seconds=TRACK_SECONDS, surahs=range(1, SURAHS + 1))
        async with Sandbox(tmp / "sandbox") as sandbox:
            for number in range(args.runs):
                order = (False, True) if number % 2 == 0 else (True, False)
                for on in order:
                    home = tmp / f"home-{number}-{'on' if on else 'off'}"
                    shutil.copytree(library, Paths.under(home).audio_dir)
                    note(f"run {number + 1}/{args.runs}: metrics {'on' if on else 'off'}")
                    runs.append(await one_run(args, sandbox, deaf, home, on))
    return runs


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(args: argparse.Namespace, runs: list[Run], load: tuple[float, float, float]) -> None:
    off = [r for r in runs if not r.metrics]
    on = [r for r in runs if r.metrics]
    tick, bare = tick_cost_ns()
    print(
        f"/metrics cost on one stream; {os.cpu_count()} cores, load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        f"{args.seconds:g} s of steady playback after {args.warmup:g} s, median of {args.runs} runs each "
        f"(off and on alternating); on = scraped every {args.scrape_every:g} s"
    )
    print(f"{'':44}{'off':>10}{'on':>10}{'on/off':>9}")

    def row(label: str, a: float, b: float, ratio: bool = True) -> None:
        print(f"{label:44}{a:>10.2f}{b:>10.2f}{(b / a if a else float('nan')):>8.2f}x" if ratio else
              f"{label:44}{a:>10.2f}{b:>10.2f}")  # fmt: skip

    row("bot CPU, % of one core", med([r.cpu_percent for r in off]), med([r.cpu_percent for r in on]))
    print(
        f"  each run: off {' '.join(f'{r.cpu_percent:.2f}' for r in off)}, "
        f"on {' '.join(f'{r.cpu_percent:.2f}' for r in on)}"
    )
    row("packet cadence: median gap, ms", med([r.median for r in off]), med([r.median for r in on]), False)
    row("packet cadence: p99 gap, ms", med([r.p99 for r in off]), med([r.p99 for r in on]))
    row(
        "packet cadence: largest gap, ms",
        med([max(r.gaps_ms) for r in off]),
        med([max(r.gaps_ms) for r in on]),
    )
    scrapes = [ms for r in on for ms in r.scrapes_ms]
    if scrapes:
        print(
            f"a scrape, as this script timed it: p50 {med(scrapes):.2f} ms, max {max(scrapes):.2f} ms, "
            f"{len(scrapes)} scrapes, {on[-1].scrape_bytes:,} bytes"
        )
    print(f"per frame with metrics on: FrameClock.tick() {tick:.0f} ns (a bare perf_counter() {bare:.0f} ns)")
    print(
        f"reproduce: .venv/bin/python bench/metrics.py --seconds {args.seconds:g} --runs {args.runs} "
        f"--scrape-every {args.scrape_every:g}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="steady playback measured per run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each mode")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds after the first packet")
    parser.add_argument("--scrape-every", type=float, default=1.0, help="seconds between scrapes (on)")
    args = parser.parse_args()
    load = os.getloadavg()
    runs = asyncio.run(run(args))
    report(args, runs, load)


if __name__ == "__main__":
    main()
