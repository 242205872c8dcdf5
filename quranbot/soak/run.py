"""The soak itself: set up the sandbox, the library and the bot under its supervisor, draw a fault
every few seconds, time each recovery, and check what is left at the end (quranbot/soak/checks.py).

"Recovered" means what a listener notices: every guild's voice channel receives audio at the normal
rate again (at least 15 packets in half a second, 25 being the cadence), and the control socket
answers. Positions are read from the socket once a second; when the bot's pid changes, the last
position of the old process and the first of the new one are a `Restart`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from quranbot.audio.library import Library
from quranbot.audio.sample import SAMPLE_SLUG, write_sample_reciter
from quranbot.config.timezones import system_timezone
from quranbot.control.client import ControlClient, ControlError
from quranbot.paths import Paths
from quranbot.sandbox.defaults import DefaultGuild, add_guild_with_bot
from quranbot.sandbox.model import Member, Message
from quranbot.sandbox.server import Sandbox
from quranbot.soak import checks
from quranbot.soak.faults import FAULTS, FLOOD_MEMBERS, available, can_mount, draw
from quranbot.soak.supervisor import Supervisor
from quranbot.soak.wallclock import ShimUnavailable, WallClock, build_shim
from quranbot.store.records import GuildSettings
from quranbot.store.state import StateStore

log = logging.getLogger(__name__)

#: A fault counts as recovered within this many seconds (the issue's bar).
RECOVERY_GOAL = 10.0
#: Listening members per guild besides the crowd (they stay in the channel the whole run).
LISTENERS = 2
FRAMES_PER_SECOND = 50
#: Recovered: this many half-second windows in a row with audio in every guild.
STEADY_WINDOWS = 4
#: Between faults the audio is sampled this often; a window below half the cadence (50 packets a second)
#: in any guild is silence, charged to the fault before it (an effect that comes seconds late).
SAMPLE_SECONDS = 0.5
MIN_PACKET_RATE = 25.0
#: Each guild's daily verse is set this far past the start: only a wall-clock step forward reaches it,
#: and a step back then forward again must not post it twice.
DAILY_VERSE_AHEAD = datetime.timedelta(minutes=30)
DAILY_VERSE_TITLE = "Verse of the day"


@dataclass(frozen=True)
class Outcome:
    kind: str
    at: float
    note: str
    #: Seconds from the fault's end to audio in every guild again; None: not within the wait.
    recovered: float | None
    #: The recovery came only after a silence that began after the first steady audio (charged here).
    delayed: bool = False


@dataclass
class SoakReport:
    seconds: float
    seed: int
    faults: list[str]
    left_out: dict[str, str]
    outcomes: list[Outcome] = field(default_factory=list)
    restarts: list[checks.Restart] = field(default_factory=list)
    flush_interval: float = 1.0
    state_problems: list[str] = field(default_factory=list)
    listening: list[tuple[int, float, float]] = field(default_factory=list)  # (user, recorded, present)
    growth: checks.Growth | None = None
    log: checks.LogFindings = field(default_factory=checks.LogFindings)
    supervisor_restarts: int = 0
    watchdog_trips: int = 0
    flood_unanswered: int = 0
    #: Daily verses posted per guild name (the slot is only reached by stepping the clock forward).
    daily_verses: dict[str, int] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Everything that breaks the soak's promises, as sentences (empty: it held)."""
        found = [
            f"{o.kind} at {o.at:.0f} s: "
            + ("not recovered" if o.recovered is None else f"recovered after {o.recovered:.1f} s")
            + (" (the channel went silent again after it first recovered)" if o.delayed else "")
            + f" ({o.note})"
            for o in self.outcomes
            if o.recovered is None or o.recovered > RECOVERY_GOAL
        ]
        allowed = self.flush_interval * FRAMES_PER_SECOND + FRAMES_PER_SECOND  # + 1 s of slack
        found += [
            f"guild {r.guild_id}: {r.cause}: the position went back {r.lost_frames / FRAMES_PER_SECOND:.2f} s"
            for r in self.restarts
            if r.lost_frames > allowed
        ]
        found += self.state_problems
        found += [
            f"member {user}: {recorded:.1f} s of listening recorded in {present:.1f} s present"
            for user, recorded, present in self.listening
            if recorded > present + 2.0
        ]
        found += [f"unhandled exception in the log: {line}" for line in self.log.unhandled[:5]]
        if self.flood_unanswered:
            found.append(f"{self.flood_unanswered} panel presses were not answered within 3 s")
        found += [
            f"{guild}: the daily verse was posted {count} times in one day"
            for guild, count in self.daily_verses.items()
            if count > 1
        ]
        return found


class Soak:
    def __init__(
        self,
        home: Path,
        *,
        minutes: float,
        seed: int | None = None,
        every: tuple[float, float] = (3.0, 6.0),
        only: list[str] | None = None,
        flush_interval: float = 1.0,
        watchdog_seconds: float = 5.0,
        each_once: bool = False,
    ) -> None:
        self.home = home.expanduser().absolute()
        self.paths = Paths.under(self.home)
        self.minutes = minutes
        self.seed = seed if seed is not None else random.randrange(1_000_000)
        self.rng = random.Random(self.seed)
        self.every = every
        #: Every fault once, in an order drawn from the seed, instead of `minutes` of random draws.
        self.each_once = each_once
        self.flush_interval = flush_interval
        self.watchdog_seconds = watchdog_seconds
        self.mounted = False
        self.home.mkdir(parents=True, exist_ok=True)
        self.wall_clock: WallClock | None = None
        try:
            self.wall_clock = WallClock(build_shim(self.home / "shim"), self.home / "wallclock-offset")
            clock_left_out = None
        except ShimUnavailable as exc:
            clock_left_out = str(exc)
        names, left_out = available(can_mount(), clock_left_out)
        if only:
            unknown = [n for n in only if n not in FAULTS]
            if unknown:
                raise ValueError(f"no fault {', '.join(unknown)}; the faults are: {', '.join(FAULTS)}")
            names = [n for n in names if n in only]
        self.report = SoakReport(0.0, self.seed, names, left_out, flush_interval=flush_interval)
        self.sandbox = Sandbox(self.paths.sandbox_dir)
        self.guilds: list[DefaultGuild] = []
        self.crowd: dict[int, list[Member]] = {}
        self.present: dict[int, float] = {}  # user id -> monotonic time joined
        self.frames_per_surah = 0
        self.flood_unanswered = 0
        #: What a fault undoes once the bot has recovered from it (a hung file put back).
        self.after_recovery: list[Callable[[], None]] = []
        self.samples: list[checks.ProcessSample] = []
        self._positions: dict[int, tuple[int, int]] = {}  # guild -> (pid, absolute frames)
        self._audio: list[tuple[float, list[int]]] = []  # (monotonic time, packets heard per guild)
        self._client: tuple[int, ControlClient] | None = None
        self._started = 0.0
        self.supervisor = Supervisor(
            self._command(),
            runtime_dir=self.paths.runtime_dir,
            log_file=self.home / "bot.log",
            watchdog_seconds=watchdog_seconds,
            env=self.wall_clock.environment() if self.wall_clock else {},
        )

    # -- setting up ------------------------------------------------------------------------------------
    def _command(self) -> list[str]:
        return [
            sys.executable, "-m", "quranbot", "--home", str(self.home), "run",
            "--sandbox", "SANDBOX_URL", "--flush-interval", str(self.flush_interval),
            "--statistics-interval", "2",
        ]  # fmt: skip

    async def _set_up(self, track_seconds: float) -> None:
        if "disk full" in self.report.faults:
            self.paths.state_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", str(self.paths.state_dir)],
                check=True,
            )
            self.mounted = True
        await asyncio.to_thread(write_sample_reciter, self.paths.audio_dir, track_seconds)
        self.frames_per_surah = Library(self.paths.audio_dir).get(SAMPLE_SLUG).track(1).frames  # type: ignore[union-attr]
        await self.sandbox.start()
        world = self.sandbox.world
        self.guilds = [
            self.sandbox.default,
            add_guild_with_bot(world, self.sandbox.default.application, "Second Guild"),
        ]
        verse_at = datetime.datetime.now(ZoneInfo(system_timezone())) + DAILY_VERSE_AHEAD
        with StateStore(self.paths.state_dir, self.paths.backups_dir) as store:
            for g in self.guilds:
                store.save_settings(
                    GuildSettings(
                        g.guild.id,
                        voice_channel_id=g.voice.id,
                        panel_channel_id=g.panel.id,
                        daily_verse_channel_id=g.general.id,
                        daily_verse_time=verse_at.strftime("%H:%M"),
                    )
                )
        for g in self.guilds:
            members = [g.listener] + await self.sandbox.add_members(LISTENERS - 1, "listener", guild=g.guild)
            for member in members:
                await self.sandbox.join_voice(member, g.voice)
                self.present[member.user.id] = time.monotonic()
            self.crowd[g.guild.id] = await self.sandbox.add_members(FLOOD_MEMBERS, "crowd", guild=g.guild)
            self.sandbox.listener(g.voice)
        self.supervisor.command = [
            self.sandbox.url if part == "SANDBOX_URL" else part for part in self.supervisor.command
        ]

    # -- what faults use -------------------------------------------------------------------------------
    def pick_guild(self) -> DefaultGuild:
        return self.rng.choice(self.guilds)

    def track_path(self, surah: int) -> Path:
        reciter = Library(self.paths.audio_dir).get(SAMPLE_SLUG)
        track = reciter.track(surah)
        assert track is not None
        return reciter.path(track)

    def panel_message(self, guild: DefaultGuild) -> Message | None:
        panels = [m for m in self.sandbox.messages(guild.panel, include_ephemeral=False) if m.embeds]
        return panels[-1] if panels else None

    async def nudge_rest(self) -> None:
        """Make the bot call REST now (a panel edit): a REST fault then meets a real request."""
        guild = self.guilds[0]
        with contextlib.suppress(ControlError, OSError, TimeoutError):
            await self.control(guild.guild.id, action="loop", on=False)

    async def client(self) -> ControlClient:
        pid = self.supervisor.pid or 0
        if self._client is not None and self._client[0] == pid:
            return self._client[1]
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client[1].close()
        client = await ControlClient.connect(self.paths.control_socket, timeout=2.0)
        self._client = (pid, client)
        return client

    async def status_of(self, guild_id: int) -> dict[str, Any] | None:
        try:
            status = await (await self.client()).call("status", timeout=2.0)
        except (ControlError, OSError, TimeoutError, ConnectionError):
            self._client = None
            return None
        return next((g for g in status["guilds"] if g["guild_id"] == str(guild_id)), None)

    async def control(self, guild_id: int, **params: Any) -> Any:
        return await (await self.client()).call("control", guild=str(guild_id), timeout=5.0, **params)

    def check_state_files(self, when: str) -> None:
        self.report.state_problems += [
            f"{when}: {p}" for p in checks.unloadable_state_files(self.paths.state_dir)
        ]

    # -- watching ----------------------------------------------------------------------------------------
    def _packets(self) -> list[int]:
        return [self.sandbox.listener(g.voice).packets for g in self.guilds]

    async def flowing(self) -> bool:
        before = self._packets()
        await asyncio.sleep(0.5)
        after = self._packets()
        if not all(b - a >= 15 for a, b in zip(before, after, strict=True)):
            return False
        return await self.status_of(self.guilds[0].guild.id) is not None

    async def wait_recovered(self, timeout: float) -> float | None:
        """Seconds until audio flowed in every guild (and the socket answered) for STEADY_WINDOWS half
        seconds in a row, counted to the start of that run; None if not within `timeout`. Requiring a
        steady run catches a fault that silences the channel a moment after it is injected."""
        started = time.monotonic()
        steady_since: float | None = None
        good = 0
        while time.monotonic() - started < timeout:
            window_start = time.monotonic()
            if await self.flowing():
                steady_since = window_start if good == 0 else steady_since
                good += 1
                if good >= STEADY_WINDOWS and steady_since is not None:
                    return max(0.0, steady_since - started)
            else:
                good, steady_since = 0, None
        return None

    async def _watch(self) -> None:
        """Once a second: the process's memory and descriptors, and each guild's position (a restart is
        the pid changing between two readings)."""
        while True:
            await asyncio.sleep(1.0)
            pid = self.supervisor.pid
            if pid is None:
                continue
            sample = checks.sample_process(pid, time.monotonic() - self._started)
            if sample is not None:
                self.samples.append(sample)
            for g in self.guilds:
                status = await self.status_of(g.guild.id)
                if status is None or self.supervisor.pid != pid:
                    continue
                frames = checks.absolute_frames(
                    int(status["surah"]),
                    round(float(status["position"]) * FRAMES_PER_SECOND),
                    self.frames_per_surah,
                )
                previous = self._positions.get(g.guild.id)
                if previous is not None and previous[0] != pid:
                    self.report.restarts.append(checks.Restart(g.guild.id, "restart", previous[1], frames))
                self._positions[g.guild.id] = (pid, frames)

    async def _sample_audio(self) -> None:
        """The packets each guild's channel has heard, every SAMPLE_SECONDS, for the whole run."""
        while True:
            self._audio.append((time.monotonic(), self._packets()))
            await asyncio.sleep(SAMPLE_SECONDS)

    def _last_silence_end(self, start: float, end: float) -> float | None:
        """The end of the last sampled window in (start, end) in which some guild heard too little."""
        last = None
        for (t0, before), (t1, after) in zip(self._audio, self._audio[1:], strict=False):
            if t0 < start or t1 > end:
                continue
            if any((b - a) / (t1 - t0) < MIN_PACKET_RATE for a, b in zip(before, after, strict=True)):
                last = t1
        return last

    def _charge_late_silence(self, fault: Outcome, fault_end: float, next_start: float) -> Outcome:
        """`fault` with its recovery moved to the end of any silence before the next fault: a voice close
        whose effect comes seconds later is charged to it, not to whatever is drawn next."""
        if fault.recovered is None:
            return fault
        silence_end = self._last_silence_end(fault_end + fault.recovered, next_start)
        if silence_end is None:
            return fault
        return Outcome(fault.kind, fault.at, fault.note, silence_end - fault_end, delayed=True)

    # -- the run -----------------------------------------------------------------------------------------
    async def run(self, track_seconds: float | None = None) -> SoakReport:
        seconds = self.minutes * 60 if not self.each_once else 12.0 * len(self.report.faults)
        # every surah long enough that the run never wraps round from 114 to 1 (positions only go forward)
        track_seconds = track_seconds or max(10.0, (seconds + 600) / 100)
        watcher: asyncio.Task[None] | None = None
        sampler: asyncio.Task[None] | None = None
        pending: tuple[Outcome, float] | None = None  # the last fault, until the next one starts
        try:
            await self._set_up(track_seconds)
            await self.supervisor.start()
            await asyncio.wait_for(self.supervisor.ready.wait(), 60)
            self._started = time.monotonic()
            watcher = asyncio.create_task(self._watch(), name="soak watcher")
            if await self.wait_recovered(30) is None:
                raise RuntimeError("the bot never started reciting in every guild")
            sampler = asyncio.create_task(self._sample_audio(), name="soak audio sampler")
            queue = self.rng.sample(self.report.faults, len(self.report.faults)) if self.each_once else []
            while queue if self.each_once else time.monotonic() - self._started < seconds:
                await asyncio.sleep(self.rng.uniform(*self.every))
                kind = queue.pop() if self.each_once else draw(self.rng, self.report.faults)
                if pending is not None:
                    self._record(self._charge_late_silence(*pending, time.monotonic()))
                    pending = None
                at = time.monotonic() - self._started
                try:
                    async with asyncio.timeout(60):
                        note = await FAULTS[kind](self)
                except (Exception, TimeoutError) as exc:  # the harness goes on; the report says so
                    note = f"the fault itself failed: {exc!r}"
                    log.warning("%s at %.0f s: %s", kind, at, note)
                fault_end = time.monotonic()
                recovered = await self.wait_recovered(30)
                while self.after_recovery:
                    self.after_recovery.pop()()
                pending = (Outcome(kind, at, note, recovered), fault_end)
            if pending is not None:  # the last fault is watched for a late silence too
                await asyncio.sleep(self.every[1])
                self._record(self._charge_late_silence(*pending, time.monotonic()))
                pending = None
        finally:
            if pending is not None:
                self._record(pending[0])
            while self.after_recovery:
                with contextlib.suppress(OSError):
                    self.after_recovery.pop()()
            for task in (watcher, sampler):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if self._client is not None:
                with contextlib.suppress(Exception):
                    await self._client[1].close()
            await self.supervisor.stop()
            ended = time.monotonic()
            await self.sandbox.stop()
            self._finish(ended)
            if self.mounted:
                self._unmount()
        return self.report

    def _record(self, outcome: Outcome) -> None:
        self.report.outcomes.append(outcome)
        late = " (after a late silence)" if outcome.delayed else ""
        log.info(
            "%s at %.0f s: %s; recovered %s%s",
            outcome.kind,
            outcome.at,
            outcome.note,
            outcome.recovered,
            late,
        )

    def _finish(self, ended: float) -> None:
        report = self.report
        report.seconds = ended - self._started if self._started else 0.0
        report.supervisor_restarts = self.supervisor.restarts
        report.watchdog_trips = self.supervisor.watchdog_trips
        report.flood_unanswered = self.flood_unanswered
        report.growth = checks.growth(self.samples)
        report.log = checks.read_log(self.supervisor.log_file)
        report.daily_verses = {
            g.guild.name: sum(
                1
                for m in self.sandbox.messages(g.general, include_ephemeral=False)
                if any((e.get("title") or "").startswith(DAILY_VERSE_TITLE) for e in m.embeds)
            )
            for g in self.guilds
        }
        self.check_state_files("at the end")
        with StateStore(self.paths.state_dir, self.paths.backups_dir) as store:
            for g in self.guilds:
                for stats in store.all_listening(g.guild.id):
                    joined = self.present.get(stats.user_id)
                    if joined is not None:
                        report.listening.append((stats.user_id, stats.seconds, ended - joined))

    def _unmount(self) -> None:
        keep = self.home / "state-kept"
        with contextlib.suppress(OSError):
            shutil.copytree(self.paths.state_dir, keep, ignore=shutil.ignore_patterns("audio", "soak-filler"))
        subprocess.run(["umount", "-l", str(self.paths.state_dir)], check=False)


def distribution(values: list[float]) -> tuple[float, float, float]:
    """(median, p90, max) of recovery seconds."""
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return statistics.median(ordered), p90, ordered[-1]
