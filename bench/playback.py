"""Playback cost, side by side in one run: QuranBot's passthrough against the naive music-bot path.

naive:    a small discord.py client that plays MP3 with `discord.FFmpegPCMAudio` (ffmpeg decodes and
          resamples, libopus encodes in discord.py's player thread) and starts a NEW FFmpegPCMAudio per
          track from the `after=` callback, as nearly every Python music bot does.
QuranBot: the real bot (`run_bot`) reciting a library of Ogg Opus files (the sample reciter, long
          tones), passing the Opus packets through with no ffmpeg and no re-encoding.

Each bot runs in its own child process (a small entry point in this file, or `python -m quranbot run`);
the sandbox (the local Discord, which decrypts, decodes and times every packet) runs in this process.
CPU is read from /proc: utime+stime of the child and of every live descendant, plus the cumulative
times of descendants it has reaped (cutime+cstime: each ffmpeg of the naive path), sampled at the start
and end of a steady window. Parts: cpu (and, from the same runs, gaps at surah boundaries, in arrivals
and in the audio: the longest quiet inside frames, in 2.5 ms windows; and packet cadence), latency
(/play to the new surah's first packet), start (spawn to first packet), scale (N guilds in one bot
process).

Reproduce: .venv/bin/python bench/playback.py [--seconds 30] [--runs 3] [--only cpu,gap,latency,start,scale]
           [--scale 1,10,50] [--no-decode]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import numpy as np

FRAME_MS = 20.0
RATE = 48_000
#: Sample surahs in the library (surah N is a 200 + 10·N Hz tone).
SURAHS = 12
#: Tracks in the naive client's MP3 playlist (it restarts from the first each run).
MP3_TRACKS = 4
#: A decoded frame quieter than this (dBFS) is silence, as the sandbox's listener counts it.
SILENCE_DBFS = -55.0
#: Packets either side of a detected tone change that count as "at the boundary".
BOUNDARY_MARGIN = 10
PARTS = ("cpu", "gap", "latency", "start", "scale")
CLK_TCK = os.sysconf("SC_CLK_TCK")
HERE = Path(__file__).resolve()
T = TypeVar("T")


def note(message: str) -> None:
    """Progress on stderr, so stdout holds only the results."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- CPU and memory of a process tree, from /proc ---------------------------------------------------------
def _all_stats() -> dict[int, tuple[int, float, float]]:
    """pid -> (ppid, own CPU s, reaped children's CPU s) for every process now."""
    found: dict[int, tuple[int, float, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:  # it exited meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "; fields[0] is field 3
        ppid = int(fields[1])
        own = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
        reaped = (int(fields[13]) + int(fields[14])) / CLK_TCK  # cutime + cstime
        found[int(entry.name)] = (ppid, own, reaped)
    return found


def tree_pids(root: int, stats: dict[int, tuple[int, float, float]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            pids.append(pid)
            todo.extend(children.get(pid, []))
    return pids


def tree_cpu_seconds(root: int) -> tuple[float, float]:
    """CPU seconds used so far: (`root` itself, its descendants: live ones plus those reaped)."""
    stats = _all_stats()
    if root not in stats:
        return 0.0, 0.0
    total = sum(stats[pid][1] + stats[pid][2] for pid in tree_pids(root, stats))
    return stats[root][1], total - stats[root][1]


def tree_rss_mib(root: int) -> float:
    total_kib = 0
    for pid in tree_pids(root, _all_stats()):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
    return total_kib / 1024


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def all_cpu_seconds() -> float:
    """CPU seconds of every process on the machine: each live one plus what it reaped.

    Not /proc/stat: that is sampled on the scheduler tick, and on a tickless kernel a thread that wakes
    from idle for half a millisecond every 20 ms mostly escapes the tick. Per-process times are scaled
    to the exact run time.
    """
    return sum(own + reaped for _, own, reaped in _all_stats().values())


@dataclass
class Reading:
    """CPU seconds at one instant: the bot's process tree, this process (the sandbox), everything."""

    at: float
    bot: float
    children: float
    sandbox: float
    everything: float

    @classmethod
    def take(cls, pid: int) -> Reading:
        bot, children = tree_cpu_seconds(pid)
        return cls(time.perf_counter(), bot, children, self_cpu_seconds(), all_cpu_seconds())

    def percent_since(self, start: Reading) -> dict[str, float]:
        """% of one core over the interval: bot (process + children), children, sandbox, others."""
        elapsed = self.at - start.at

        def share(value: float) -> float:
            return value / elapsed * 100

        bot = self.bot + self.children - start.bot - start.children
        sandbox = self.sandbox - start.sandbox
        return {
            "bot": share(bot),
            "children": share(self.children - start.children),
            "sandbox": share(sandbox),
            "others": share(max(0.0, self.everything - start.everything - bot - sandbox)),
        }


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free TCP ports on loopback (a shard serves /metrics on base + id)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count < 65536 and all(port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no run of free ports")


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def send_lateness(ports: Sequence[int]) -> dict[float, float]:
    """Frames per lateness bucket edge (cumulative, as the histogram's `le`), summed over every guild of
    every bot process serving /metrics on `ports`."""
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[float, float] = {}
    async with aiohttp.ClientSession() as session:
        for port in ports:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
            for family in text_string_to_metric_families(text):
                if family.name != "quranbot_voice_frame_lateness_seconds":
                    continue
                for sample in family.samples:
                    if sample.name.endswith("_bucket"):
                        edge = float(sample.labels["le"])
                        totals[edge] = totals.get(edge, 0.0) + sample.value
    return totals


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The smallest bucket edge (seconds) under which a share `q` of the frames counted between two
    scrapes fell; nan with no frames."""
    edges = sorted(after)
    cumulative = [after[edge] - before.get(edge, 0.0) for edge in edges]
    if not cumulative or cumulative[-1] <= 0:
        return float("nan")
    wanted = q * cumulative[-1]
    return next(edge for edge, count in zip(edges, cumulative, strict=True) if count >= wanted)


# -- the two bots, each run as a child process of this script --------------------------------------------
def child_connector(host: str, port: int, cert: Path) -> Any:
    """The sandbox's connector with no connection cap, as discord.py makes its own (`limit=0`).

    aiohttp's default cap is 100 connections, and every voice websocket holds one: with the default,
    the 100th guild's voice connection waits for a free slot and times out.
    """
    from quranbot.sandbox.connector import sandbox_connector

    return sandbox_connector(host, port, cert, limit=0)


async def naive_child(host: str, port: int, cert: Path, token: str, channel_id: int, media: Path) -> None:
    """The naive path: FFmpegPCMAudio(mp3) per track, the next one started from `after=`."""
    import discord

    intents = discord.Intents.none()
    intents.guilds = True
    intents.voice_states = True
    client = discord.Client(intents=intents, connector=child_connector(host, port, cert))
    tracks = sorted(media.glob("*.mp3"))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    played = 0
    voice: discord.VoiceClient | None = None

    async def play_next() -> None:
        nonlocal played
        if stop.is_set() or voice is None or not voice.is_connected():
            return
        source = discord.FFmpegPCMAudio(str(tracks[played % len(tracks)]))
        played += 1
        voice.play(source, after=lambda error: asyncio.run_coroutine_threadsafe(play_next(), loop))

    @client.event
    async def on_ready() -> None:
        nonlocal voice
        channel = client.get_channel(channel_id)
        assert isinstance(channel, discord.VoiceChannel), channel
        voice = await channel.connect(self_deaf=True)
        await play_next()

    async with client:
        runner = asyncio.create_task(client.start(token))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        if voice is not None:
            voice.stop()
            await voice.disconnect(force=True)
        await client.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner


async def quranbot_child(
    host: str,
    port: int,
    cert: Path,
    token: str,
    channels: tuple[int, ...],
    home: Path,
    shard: tuple[int, int] | None = None,
    metrics_port: int | None = None,
) -> None:
    """The real bot, as `quranbot run` starts it (SIGTERM stops it cleanly); with `shard` (id, count),
    as `quranbot run --shard-ids ID --shard-count COUNT` does; with `metrics_port`, serving /metrics
    there (a shard on the port + its id), which the scale part reads for the bot's own send lateness."""
    from quranbot.bot.runner import run_bot
    from quranbot.bot.settings import BotSettings
    from quranbot.metrics.address import ListenAddress
    from quranbot.paths import Paths
    from quranbot.secret import Secret
    from quranbot.shards.ownership import Shard

    settings = BotSettings(
        token=Secret(token),
        voice_channels=channels,
        shard=None if shard is None else Shard(*shard),
        metrics_listen=None if metrics_port is None else ListenAddress("127.0.0.1", metrics_port),
    )
    paths = Paths.under(home).for_shard(None if shard is None else shard[0])
    await run_bot(settings, paths, connector=child_connector(host, port, cert))


def child_main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="playback.py --child")
    parser.add_argument("--child", choices=("naive", "quranbot"), required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--channel", type=int, action="append", default=[])
    parser.add_argument("--media", type=Path, help="naive: the MP3 folder")
    parser.add_argument("--home", type=Path, help="quranbot: its --home")
    parser.add_argument("--shard", help="quranbot: ID/COUNT, one gateway shard of COUNT")
    parser.add_argument("--metrics-port", type=int, help="quranbot: serve /metrics on 127.0.0.1:PORT")
    args = parser.parse_args(argv)
    token = args.token_file.read_text().strip()
    if args.child == "naive":
        asyncio.run(naive_child(args.host, args.port, args.cert, token, args.channel[0], args.media))
    else:
        shard = tuple(int(part) for part in args.shard.split("/")) if args.shard else None
        asyncio.run(
            quranbot_child(
                args.host,
                args.port,
                args.cert,
                token,
                tuple(args.channel),
                args.home,
                shard,  # type: ignore[arg-type]
                args.metrics_port,
            )
        )


# -- listening, on the sandbox's side ---------------------------------------------------------------------
def make_listener_classes() -> tuple[type[Any], type[Any]]:
    """Bench-only listeners: the sandbox's own, plus arrival times (and audio) per packet."""
    from quranbot.sandbox.listener import ChannelListener

    class BenchListener(ChannelListener):  # type: ignore[misc]
        def __init__(self, channel_id: int, keep_audio: bool = True) -> None:
            super().__init__(channel_id)
            self.keep_audio = keep_audio
            self.arrivals: list[float] = []
            self.audio: list[bytes | None] = []  # the decoded frame of each packet (None: not decoded)

        def receive(
            self, ssrc: int, sequence: int, timestamp: int, opus: bytes, arrived: float | None = None
        ) -> None:
            arrived = time.perf_counter() if arrived is None else arrived
            super().receive(ssrc, sequence, timestamp, opus, arrived)
            self.arrivals.append(arrived)

        def _decode(self, ssrc: int, opus: bytes) -> None:
            errors = self.decode_errors
            super()._decode(ssrc, opus)
            if self.keep_audio:
                self.audio.append(self._frames[-1] if self.decode_errors == errors else None)

    class DeafListener(BenchListener):
        """--no-decode (bench process only): packets are decrypted, counted and timed, not decoded."""

        def _decode(self, ssrc: int, opus: bytes) -> None:
            return None

    return BenchListener, DeafListener


def frame_surah(pcm: bytes | None) -> int | None:
    """The sample surah one 20 ms frame holds (numpy FFT, 1 Hz bins), None for silence or a blend."""
    from quranbot.audio.sample import surah_from_frequency

    if pcm is None:
        return None
    left = np.frombuffer(pcm, dtype="<i2")[::2].astype(np.float64)
    if len(left) < 480 or np.sqrt(np.mean(left**2)) < 100:
        return None
    spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left)), n=RATE))
    return surah_from_frequency(float(np.argmax(spectrum)))


def frame_sounds(pcm: bytes | None) -> bool:
    if pcm is None:
        return False
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    rms = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
    return rms > 0 and 20 * np.log10(rms / 32768.0) > SILENCE_DBFS


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@dataclass
class Boundary:
    before: int  # surah heard before
    after: int
    max_gap_ms: float  # the largest arrival gap around the change
    silence_ms: float  # the longest stretch with nothing sounding (silent frames or no packets)
    quiet_ms: float  # the longest quiet inside the frames around the change (2.5 ms windows)


def find_boundaries(arrivals: Sequence[float], audio: Sequence[bytes | None]) -> list[Boundary]:
    """Tone changes in what the channel heard, with the gap and the silence a listener got at each:
    whole silent frames or missing packets, and the quiet inside frames (what a track boundary leaves)."""
    from quranbot.audio.levels import longest_quiet_ms

    labels = [frame_surah(pcm) for pcm in audio]
    runs: list[tuple[int, int, int]] = []  # (surah, first index, last index) of steady stretches
    for index, label in enumerate(labels):
        if label is None:
            continue
        if runs and runs[-1][0] == label:
            runs[-1] = (label, runs[-1][1], index)
        else:
            runs.append((label, index, index))
    runs = [run for run in runs if run[2] - run[1] >= 5]  # ignore single frames mis-heard at a change
    boundaries = []
    for (before, _, last), (after, first, _) in itertools.pairwise(runs):
        if before == after:
            continue
        low, high = max(1, last - BOUNDARY_MARGIN), min(len(arrivals) - 1, first + BOUNDARY_MARGIN)
        gaps = [(arrivals[i] - arrivals[i - 1]) * 1000 for i in range(low, high + 1)]
        sounding = [i for i in range(low - 1, high + 1) if frame_sounds(audio[i])]
        silences = [(arrivals[b] - arrivals[a]) * 1000 - FRAME_MS for a, b in itertools.pairwise(sounding)]
        heard = b"".join(pcm for pcm in audio[low - 1 : high + 1] if pcm is not None)
        quiet = longest_quiet_ms(heard, SILENCE_DBFS)
        boundaries.append(Boundary(before, after, max(gaps), max([0.0, *silences]), quiet))
    return boundaries


# -- the bench itself, in the parent --------------------------------------------------------------------
@dataclass
class StreamRun:
    kind: str
    cpu_percent: float
    children_cpu_percent: float
    sandbox_cpu_percent: float
    others_cpu_percent: float
    rss_mib: float
    median_gap_ms: float
    p99_gap_ms: float
    max_gap_ms: float
    boundaries: list[Boundary]
    packets: int
    decode_errors: int


@dataclass
class ScaleRun:
    guilds: int
    shards: int  # bot processes (gateway shards) the guilds were split over
    streaming: int
    bot_cpu_percent: float
    bot_rss_mib: float
    sandbox_cpu_percent: float
    others_cpu_percent: float
    worst_p99_late_ms: float
    median_p99_late_ms: float
    worst_max_gap_ms: float
    delivered: float  # packets heard / packets expected over the window, all channels
    connect_seconds: float
    threads: int  # the bot process's threads while streaming (discord.py's player: one per guild)
    #: The bot's own p99 send lateness over the window, from its /metrics histogram (every guild): an
    #: upper bound (a bucket's edge). Unlike "p99 late", untouched by the sandbox's own delays.
    send_p99_late_ms: float = float("nan")


@dataclass
class Results:
    runs: list[StreamRun] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    replies_ms: list[float] = field(default_factory=list)
    latency_failures: int = 0
    starts: dict[str, list[float]] = field(default_factory=dict)
    scale: list[ScaleRun] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def stamped(waiting: Awaitable[T]) -> tuple[T, float]:
    """The awaited value and the perf_counter time it arrived."""
    value = await waiting
    return value, time.perf_counter()


class Bench:
    def __init__(self, args: argparse.Namespace, sandbox: Any, tmp: Path) -> None:
        self.args = args
        self.sandbox = sandbox
        self.tmp = tmp
        self.listener_class, self.deaf_class = make_listener_classes()
        self.library = tmp / "library" / "audio"
        self.media = tmp / "mp3"
        self.token_file = sandbox.directory / "token"
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.children: list[asyncio.subprocess.Process] = []
        self.results = Results()
        self._homes = 0

    # -- preparing ---------------------------------------------------------------------------------------
    def prepare_audio(self) -> None:
        from quranbot.audio.sample import sample_frequency, write_sample_reciter

        seconds = self.args.track_seconds
        write_sample_reciter(self.library, seconds=seconds, surahs=range(1, SURAHS + 1))
        self.media.mkdir()
        command = ["ffmpeg", "-v", "error", "-nostdin", "-y"]
        for track in range(1, MP3_TRACKS + 1):
            sine = f"sine=frequency={sample_frequency(track)}:duration={seconds}:sample_rate=44100"
            command += ["-f", "lavfi", "-i", sine]
        for index in range(MP3_TRACKS):
            command += ["-map", f"{index}:a", "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k"]
            command.append(str(self.media / f"{index + 1:03d}.mp3"))
        subprocess.run(command, check=True)

    def new_home(self) -> Path:
        from quranbot.paths import Paths

        self._homes += 1
        home = self.tmp / f"home-{self._homes}"
        shutil.copytree(self.library, Paths.under(home).audio_dir)
        return home

    def listen(self, channel: Any, *, keep_audio: bool = True, deaf: bool = False) -> Any:
        """A fresh bench listener for the channel (the sandbox routes its packets to whatever is there)."""
        listener = (self.deaf_class if deaf else self.listener_class)(channel.id, keep_audio=keep_audio)
        self.sandbox.voice.listeners[channel.id] = listener
        return listener

    # -- children ----------------------------------------------------------------------------------------
    async def spawn(self, argv: list[str], name: str) -> asyncio.subprocess.Process:
        log = (self.logs / f"{name}.log").open("ab")
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env={**os.environ, "NO_COLOR": "1"}
        )
        log.close()
        self.children.append(process)
        return process

    def child_argv(self, kind: str, channels: Sequence[int], home: Path | None = None) -> list[str]:
        sandbox = self.sandbox
        argv = [sys.executable, str(HERE), "--child", kind, "--host", sandbox.host]
        argv += ["--port", str(sandbox.port), "--cert", str(sandbox.cert_file)]
        argv += ["--token-file", str(self.token_file)]
        for channel in channels:
            argv += ["--channel", str(channel)]
        if kind == "naive":
            argv += ["--media", str(self.media)]
        else:
            assert home is not None
            argv += ["--home", str(home)]
        return argv

    async def stop(self, process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        if process in self.children:
            self.children.remove(process)

    async def kill_all(self) -> None:
        for process in list(self.children):
            if process.returncode is None:
                process.kill()
                await process.wait()
        self.children.clear()

    async def wait_for_first_packet(
        self, listeners: Sequence[Any], name: str, timeout: float, allow_missing: bool = False
    ) -> None:
        """Until every channel heard a packet; after `timeout`, fail (or go on if some did and allowed)."""
        deadline = time.monotonic() + timeout
        while any(listener.first_packet_at is None for listener in listeners):
            if time.monotonic() > deadline:
                waiting = sum(listener.first_packet_at is None for listener in listeners)
                if allow_missing and waiting < len(listeners):
                    note(f"{name}: {waiting} channel(s) heard nothing in {timeout:.0f} s; measuring the rest")
                    return
                log = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name}: {waiting} channel(s) heard nothing in {timeout:.0f} s\n{log}")
            await asyncio.sleep(0.02)

    # -- 1, 2, 4: CPU per stream, gaps at boundaries, cadence ------------------------------------------
    async def stream_run(self, kind: str, number: int) -> StreamRun:
        voice = self.sandbox.default.voice
        listener = self.listen(voice)
        name = f"{kind}-{number}"
        home = self.new_home() if kind == "quranbot" else None
        process = await self.spawn(self.child_argv(kind, [voice.id], home), name)
        try:
            await self.wait_for_first_packet([listener], name, timeout=40)
            await asyncio.sleep(self.args.warmup)
            first = len(listener.arrivals)
            start = Reading.take(process.pid)
            await asyncio.sleep(self.args.seconds)
            end = Reading.take(process.pid)
            rss = tree_rss_mib(process.pid)
            last = len(listener.arrivals)
        finally:
            await self.stop(process)
        cpu = end.percent_since(start)
        arrivals = listener.arrivals
        window = [(arrivals[i] - arrivals[i - 1]) * 1000 for i in range(first + 1, last)]
        return StreamRun(
            kind=kind,
            cpu_percent=cpu["bot"],
            children_cpu_percent=cpu["children"],
            sandbox_cpu_percent=cpu["sandbox"],
            others_cpu_percent=cpu["others"],
            rss_mib=rss,
            median_gap_ms=statistics.median(window),
            p99_gap_ms=p99(window),
            max_gap_ms=max(window),
            boundaries=find_boundaries(arrivals, listener.audio),
            packets=last - first,
            decode_errors=listener.decode_errors,
        )

    async def cpu(self) -> None:
        for number in range(1, self.args.runs + 1):
            for kind in ("naive", "quranbot"):  # interleaved, so drifting machine load hits both
                note(f"stream run {number}/{self.args.runs}: {kind}, {self.args.seconds:g} s")
                run = await self.stream_run(kind, number)
                boundaries = ", ".join(
                    f"{b.before}->{b.after} gap {b.max_gap_ms:.0f} ms quiet {b.quiet_ms:.1f} ms"
                    for b in run.boundaries
                )
                note(f"  CPU {run.cpu_percent:.2f} %, p99 {run.p99_gap_ms:.1f} ms, boundaries: {boundaries}")
                self.results.runs.append(run)

    # -- 3: /play to the first packet of the new surah ------------------------------------------------
    async def latency(self) -> None:
        sandbox = self.sandbox
        default = sandbox.default
        listener = self.listen(default.voice)
        argv = self.child_argv("quranbot", [default.voice.id], self.new_home())
        process = await self.spawn(argv, "latency")
        rng = random.Random(7)
        try:
            await self.wait_for_first_packet([listener], "latency", timeout=40)
            async with asyncio.timeout(20):
                while not any(c["name"] == "play" for c in default.application.global_commands):
                    await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            # one member per try: /play allows 5 per member per 10 s
            members = [
                await sandbox.world.add_member(default.guild, sandbox.world.new_user(f"bench{n}"))
                for n in range(self.args.latency_tries)
            ]
            current = 1
            for member in members:
                target = rng.choice([s for s in range(2, SURAHS + 1) if s != current])
                await asyncio.sleep(rng.uniform(0.3, 0.6))  # land anywhere in the 20 ms tick
                mark = len(listener.arrivals)
                started = time.perf_counter()
                record = await sandbox.run_command(member, default.general, "play", surah=target)
                replied = asyncio.create_task(stamped(record.wait()))
                heard = await self.first_packet_of(listener, target, mark, timeout=5)
                answer, reply_at = await replied
                if heard is None or "Playing" not in str(answer.get("data", {}).get("content")):
                    self.results.latency_failures += 1
                    note(f"  /play {target}: not heard ({answer})")
                    continue
                self.results.latencies_ms.append((heard - started) * 1000)
                self.results.replies_ms.append((reply_at - started) * 1000)
                note(f"  /play {target}: heard {self.results.latencies_ms[-1]:.1f} ms")
                current = target
        finally:
            await self.stop(process)

    async def first_packet_of(self, listener: Any, surah: int, mark: int, timeout: float) -> float | None:
        """Arrival time of the new surah's first packet, among those from index `mark` on.

        The new surah is confirmed by two packets in a row holding its tone; the packets just before
        them that are not the old surah either (at most two) count too: the first frame of a new file
        decodes as a blend of both tones (the decoder's overlap, the encoder's pre-skip), which no
        single pitch names.
        """
        before = (frame_surah(pcm) for pcm in reversed(listener.audio[max(0, mark - 10) : mark]))
        old = next((label for label in before if label is not None), None)
        deadline = time.monotonic() + timeout
        labels: list[int | None] = []
        while time.monotonic() < deadline:
            while mark + len(labels) < len(listener.audio):
                labels.append(frame_surah(listener.audio[mark + len(labels)]))
                if len(labels) >= 2 and labels[-1] == labels[-2] == surah:
                    first = len(labels) - 2
                    while old and first > 0 and len(labels) - 2 - first < 2 and labels[first - 1] != old:
                        first -= 1
                    return float(listener.arrivals[mark + first])
            await asyncio.sleep(0.01)
        return None

    # -- 5: spawn to first packet ----------------------------------------------------------------------
    async def start(self) -> None:
        sandbox = self.sandbox
        voice = sandbox.default.voice
        quranbot = [
            sys.executable, "-m", "quranbot", "--home", "", "run", "--sandbox", sandbox.url,
            "--sandbox-cert", str(sandbox.cert_file), "--token-file", str(self.token_file),
            "--voice-channel", str(voice.id),
        ]  # fmt: skip
        for number in range(1, self.args.runs + 1):
            for kind in ("naive", "quranbot"):
                name = f"start-{kind}-{number}"
                if kind == "quranbot":
                    argv = list(quranbot)
                    argv[4] = str(self.new_home())
                else:
                    argv = self.child_argv("naive", [voice.id])
                listener = self.listen(voice, keep_audio=False)
                spawned = time.perf_counter()
                process = await self.spawn(argv, name)
                try:
                    await self.wait_for_first_packet([listener], name, timeout=40)
                finally:
                    await self.stop(process)
                seconds = listener.first_packet_at - spawned
                self.results.starts.setdefault(kind, []).append(seconds)
                note(f"start {number}/{self.args.runs}: {kind} {seconds:.2f} s")

    # -- 6: N guilds in one bot process ----------------------------------------------------------------
    async def scale(self) -> None:
        for guilds in self.args.scale:
            for shards in sorted({1, self.args.scale_shards}):
                note(f"scale: {guilds} guild(s) in {shards} process(es), {self.args.scale_seconds:g} s")
                self.results.scale.append(await self.scale_run(guilds, shards))

    async def scale_run(self, count: int, shards: int = 1) -> ScaleRun:
        """`count` guilds recited by one bot process, or split over `shards` gateway shard processes
        (each guild in the shard Discord routes it to: (guild_id >> 22) % shards)."""
        from quranbot.paths import Paths
        from quranbot.sandbox.model import ChannelType
        from quranbot.store.records import GuildSettings
        from quranbot.store.state import StateStore

        world = self.sandbox.world
        bot = self.sandbox.default.bot
        home = self.new_home()
        guilds, channels = [], []
        for number in range(count):
            guild = world.add_guild(f"Scale {count}.{number}", world.new_user(f"owner-{count}-{number}"))
            guild.members[bot.user.id] = bot
            guilds.append(guild)
            channels.append(world.add_channel(guild, "Quran", ChannelType.VOICE))
        homes = [Paths.under(home).for_shard(None if shards == 1 else shard) for shard in range(shards)]
        for shard, paths in enumerate(homes):
            with StateStore(paths.state_dir, paths.backups_dir) as store:
                for guild, channel in zip(guilds, channels, strict=True):
                    if (guild.id >> 22) % shards == shard:
                        store.save_settings(GuildSettings(guild.id, voice_channel_id=channel.id))
        listeners = [self.listen(c, keep_audio=False, deaf=self.args.no_decode) for c in channels]
        name = f"scale-{count}" + (f"-{shards}-shards" if shards > 1 else "")
        spawned = time.perf_counter()
        processes = []
        metrics_port = free_port_run(shards)
        for shard in range(shards):
            argv = [*self.child_argv("quranbot", [], home), "--metrics-port", str(metrics_port)]
            if shards > 1:
                argv += ["--shard", f"{shard}/{shards}"]
            processes.append(await self.spawn(argv, f"{name}-{shard}"))
        ports = [metrics_port + shard for shard in range(shards)]
        try:
            await self.wait_for_first_packet(listeners, name, timeout=40 + count * 0.75, allow_missing=True)
            connect = max(ls.first_packet_at for ls in listeners if ls.first_packet_at) - spawned
            await asyncio.sleep(self.args.warmup)
            starts = [Reading.take(p.pid) for p in processes]
            sent_before = await send_lateness(ports)
            await asyncio.sleep(self.args.scale_seconds)
            ends = [Reading.take(p.pid) for p in processes]
            sent_after = await send_lateness(ports)
            rss = sum(tree_rss_mib(p.pid) for p in processes)
            threads = sum(len(os.listdir(f"/proc/{p.pid}/task")) for p in processes)
        finally:
            for process in processes:
                await self.stop(process)
            for guild in guilds:  # the next run's bot does not see these guilds
                guild.members.pop(bot.user.id, None)
        shares = [end.percent_since(start) for start, end in zip(starts, ends, strict=True)]
        start, end = starts[0], ends[0]
        cpu = {**shares[0], "bot": sum(share["bot"] for share in shares)}
        cpu["others"] = max(0.0, shares[0]["others"] - sum(share["bot"] for share in shares[1:]))
        t0, t1 = start.at, end.at
        elapsed_frames = (t1 - t0) * 1000 / FRAME_MS
        p99s, maxima, heard = [], [], 0
        for listener in listeners:
            arrivals = listener.arrivals
            low, high = bisect.bisect_left(arrivals, t0), bisect.bisect_right(arrivals, t1)
            heard += high - low
            gaps = [(arrivals[i] - arrivals[i - 1]) * 1000 for i in range(low + 1, high)]
            if len(gaps) > elapsed_frames / 2:  # streaming through the window (not joined late)
                p99s.append(p99(gaps))
                maxima.append(max(gaps))
        return ScaleRun(
            guilds=count,
            shards=shards,
            streaming=len(p99s),
            bot_cpu_percent=cpu["bot"],
            bot_rss_mib=rss,
            sandbox_cpu_percent=cpu["sandbox"],
            others_cpu_percent=cpu["others"],
            worst_p99_late_ms=max(p99s, default=float("nan")) - FRAME_MS,
            median_p99_late_ms=(statistics.median(p99s) if p99s else float("nan")) - FRAME_MS,
            worst_max_gap_ms=max(maxima, default=float("nan")),
            delivered=heard / (count * elapsed_frames),
            connect_seconds=connect,
            threads=threads,
            send_p99_late_ms=bucket_quantile(sent_before, sent_after, 0.99) * 1000,
        )


# -- the report ------------------------------------------------------------------------------------------
def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(args: argparse.Namespace, results: Results, load: tuple[float, float, float]) -> None:
    cores = os.cpu_count() or 1
    print(
        f"QuranBot playback vs the naive path; {cores} cores, load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; sample tones, {args.track_seconds:g} s per track"
    )
    naive = [r for r in results.runs if r.kind == "naive"]
    ours = [r for r in results.runs if r.kind == "quranbot"]
    if naive and ours:
        print()
        print(
            f"one stream, {args.seconds:g} s of steady playback after {args.warmup:g} s, "
            f"median of {len(ours)} runs (naive and QuranBot interleaved)"
        )
        print("  naive    = discord.py client, FFmpegPCMAudio(MP3, 128k, 44.1 kHz) + libopus encode,")
        print("             a new FFmpegPCMAudio per track from after=")
        print("  QuranBot = run_bot, Ogg Opus passthrough (no ffmpeg, no encode)")
        print(f"{'':48}{'naive':>12}{'QuranBot':>12}{'ratio':>9}")

        Pick = Callable[[StreamRun], float]

        def row(label: str, pick: Pick, fmt: str = ".2f", ratio: bool = False) -> None:
            a, b = med([pick(r) for r in naive]), med([pick(r) for r in ours])
            tail = f"{b / a:>8.2f}x" if ratio and a else ""
            print(f"{label:48}{a:>12{fmt}}{b:>12{fmt}}{tail}")

        row("CPU, % of one core (process + ffmpeg children)", lambda r: r.cpu_percent, ratio=True)
        row("  of which in child processes (ffmpeg)", lambda r: r.children_cpu_percent)
        runs = f"naive {' '.join(f'{r.cpu_percent:.2f}' for r in naive)}, "
        runs += f"QuranBot {' '.join(f'{r.cpu_percent:.2f}' for r in ours)}"
        print(f"  each run: {runs}")
        row("RSS, MiB (process + children, at the end)", lambda r: r.rss_mib, ".1f", ratio=True)
        row("sandbox CPU meanwhile, % of one core", lambda r: r.sandbox_cpu_percent)
        row("all other processes meanwhile, % of one core", lambda r: r.others_cpu_percent)
        row("packet cadence: median gap, ms", lambda r: r.median_gap_ms, ".1f")
        row("packet cadence: p99 gap, ms", lambda r: r.p99_gap_ms, ".1f")
        row("packet cadence: largest gap in the window, ms", lambda r: r.max_gap_ms, ".1f")
        nb = [b for r in naive for b in r.boundaries]
        ob = [b for r in ours for b in r.boundaries]
        if nb and ob:
            print(f"at a surah boundary (naive {len(nb)}, QuranBot {len(ob)} boundaries)")
            worst: Callable[[Sequence[float]], float] = max
            for label, pick, summary in (
                ("  largest arrival gap, ms (worst)", lambda b: b.max_gap_ms, worst),
                ("  largest arrival gap, ms (median)", lambda b: b.max_gap_ms, med),
                ("  silence heard, ms (worst)", lambda b: b.silence_ms, worst),
                ("  quiet inside frames, ms (worst)", lambda b: b.quiet_ms, worst),
                ("  quiet inside frames, ms (median)", lambda b: b.quiet_ms, med),
            ):
                a, b = summary([pick(x) for x in nb]), summary([pick(x) for x in ob])
                print(f"{label:48}{a:>12.1f}{b:>12.1f}")
        else:
            print("  (no surah boundary heard in the runs: use --track-seconds below --seconds)")
        errors = sum(r.decode_errors for r in results.runs)
        if errors:
            print(f"  decode errors at the sandbox: {errors} (boundary positions approximate)")
    if results.latencies_ms or results.latency_failures:
        values = sorted(results.latencies_ms)
        print()
        print(f"/play -> first packet of the new surah (QuranBot; {len(values)} tries, from the dispatch)")
        if values:
            p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
            print(
                f"  p50 {med(values):.1f} ms   p90 {p90:.1f} ms   min {values[0]:.1f} ms   "
                f"max {values[-1]:.1f} ms"
            )
            print(
                f"  (the bot's reply reached the sandbox after p50 {med(results.replies_ms):.1f} ms; the new"
                " surah goes out on the player's next 20 ms tick)"
            )
        if results.latency_failures:
            print(f"  {results.latency_failures} tries not heard within 5 s")
    if results.starts:
        print()
        print("spawn -> first packet heard, seconds (median of runs; each run listed)")
        for kind, label in (
            ("quranbot", "QuranBot: python -m quranbot run --sandbox ..."),
            ("naive", "baseline: the naive client above (joins in on_ready*)"),
        ):
            values = results.starts.get(kind, [])
            if values:
                runs = " ".join(f"{v:.2f}" for v in values)
                print(f"  {label:52}{med(values):>6.2f}   ({runs})")
        if "naive" in results.starts:
            print(
                "  * discord.py holds on_ready until no GUILD_CREATE came for 2 s (guild_ready_timeout);"
                " QuranBot joins on guild_available"
            )
    if results.scale:
        print()
        decode = "decoding every stream"
        if args.no_decode:
            decode = "NOT decoding (--no-decode: a bench-only listener)"
        print(
            f"N guilds in one bot process (or split over gateway shard processes), {args.scale_seconds:g} s"
            f" window; the sandbox is {decode}"
        )
        print(
            f"{'guilds':>6}{'procs':>6}{'streaming':>10}{'bot CPU %':>10}{'per stream':>11}"
            f"{'bot RSS MiB':>12}{'sandbox CPU %':>14}"
            f"{'others %':>9}{'p99 late ms':>12}{'(median ch)':>12}{'max gap ms':>11}"
            f"{'delivered':>10}{'all up s':>9}{'threads':>8}{'sent p99 ≤ ms':>14}"
        )
        for s in results.scale:
            print(
                f"{s.guilds:>6}{s.shards:>6}{s.streaming:>10}{s.bot_cpu_percent:>10.1f}"
                f"{s.bot_cpu_percent / s.guilds:>11.2f}{s.bot_rss_mib:>12.1f}"
                f"{s.sandbox_cpu_percent:>14.1f}{s.others_cpu_percent:>9.1f}{s.worst_p99_late_ms:>12.1f}"
                f"{s.median_p99_late_ms:>12.1f}{s.worst_max_gap_ms:>11.1f}{s.delivered:>9.1%}"
                f"{s.connect_seconds:>9.1f}{s.threads:>8}{s.send_p99_late_ms:>14.0f}"
            )
        print(
            "  CPU % is of one core (the machine has "
            f"{os.cpu_count()}); others = every other process meanwhile. p99 late = the worst channel's p99"
            " arrival gap - 20 ms;\n  sent p99 = the bot's own p99 lateness sending (its /metrics histogram,"
            " every guild: a bucket edge, an upper bound)."
        )
        print(
            "  The sandbox runs on the same cores: at high N its own decrypting"
            + ("" if args.no_decode else " and decoding")
            + " competes with the bot."
        )
        if any(s.streaming < s.guilds for s in results.scale):
            print(
                "  Not all guilds streaming within the wait: discord.py sends at most 110 gateway commands a"
                " minute and each voice join is one;\n  the bot lets 100 joins through a minute"
                " (quranbot/bot/voice_joins.py), so N guilds need about N/100 minutes to join."
            )
    for error in results.errors:
        print(f"FAILED {error.splitlines()[0]}")
    print(f"reproduce: .venv/bin/python bench/playback.py {reproduce_args(args)}")


def reproduce_args(args: argparse.Namespace) -> str:
    parts = [f"--seconds {args.seconds:g}", f"--runs {args.runs}", f"--track-seconds {args.track_seconds:g}"]
    if set(args.only) != set(PARTS):
        parts.append(f"--only {','.join(p for p in PARTS if p in args.only)}")
    if "latency" in args.only:
        parts.append(f"--latency-tries {args.latency_tries}")
    if "scale" in args.only:
        parts += [f"--scale {','.join(map(str, args.scale))}", f"--scale-seconds {args.scale_seconds:g}"]
        if args.scale_shards > 1:
            parts.append(f"--scale-shards {args.scale_shards}")
        if args.no_decode:
            parts.append("--no-decode")
    return " ".join(parts)


async def run(args: argparse.Namespace) -> None:
    from quranbot.sandbox.server import Sandbox

    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="quranbot-playback-") as folder:
        tmp = Path(folder)
        async with Sandbox(tmp / "sandbox") as sandbox:
            bench = Bench(args, sandbox, tmp)
            note("making the sample library and the MP3 playlist")
            bench.prepare_audio()
            parts = [
                ({"cpu", "gap"}, bench.cpu),
                ({"latency"}, bench.latency),
                ({"start"}, bench.start),
                ({"scale"}, bench.scale),
            ]
            try:
                for names, part in parts:
                    if names & set(args.only):
                        try:
                            await part()
                        except (RuntimeError, TimeoutError) as exc:  # report it; the other parts still run
                            bench.results.errors.append(f"{part.__name__}: {exc}")
                            note(f"{part.__name__} failed: {exc}")
                            await bench.kill_all()
            finally:
                await bench.kill_all()
    report(args, bench.results, load)


def main() -> None:
    if "--child" in sys.argv[1:]:
        child_main(sys.argv[1:])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="steady playback measured per run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each path (cpu, start)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds after the first packet")
    parser.add_argument("--track-seconds", type=float, default=20.0, help="length of each surah / MP3")
    parser.add_argument("--latency-tries", type=int, default=10)
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"comma-separated: {','.join(PARTS)} (gap runs with cpu)"
    )
    parser.add_argument("--scale", default="1,10,50", help="guild counts for the scale part")
    parser.add_argument(
        "--scale-shards",
        type=int,
        default=1,
        help="also run each scale count split over this many gateway shard processes",
    )
    parser.add_argument("--scale-seconds", type=float, default=15.0)
    parser.add_argument(
        "--no-decode",
        action="store_true",
        help="scale part: the sandbox's listeners (in this process only) skip libopus decoding",
    )
    args = parser.parse_args()
    args.only = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(args.only) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}: choose from {', '.join(PARTS)}")
    args.scale = [int(n) for n in args.scale.split(",") if n.strip()]
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
