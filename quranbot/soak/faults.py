"""The faults the soak draws from, each as it happens on a real server: the network, Discord, the
admin's terminal, the disk, the clock and the process itself.

A fault is a coroutine on the running `Soak` (quranbot/soak/run.py) that breaks something and, for
those with a duration (UDP silence, a full disk, a stopped process), lifts it again; the soak then
measures how long the bot takes to recite again in every guild. Faults that need what this machine
may not allow (root for a tmpfs, a C compiler for the clock shim) are left out of the draw by `available()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import random
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from quranbot.bot.panel_view import SEARCH

if TYPE_CHECKING:
    from quranbot.soak.run import Soak

Fault = Callable[["Soak"], Awaitable[str]]

#: How long the faults with a duration last (seconds).
UDP_SILENCE = 3.0
DISK_FULL = 3.0
#: A member flood: this many members press the panel's Search button at once.
FLOOD_MEMBERS = 30


async def gateway_drop(soak: Soak) -> str:
    closed = await soak.sandbox.faults.drop_gateway()
    return f"{closed} gateway socket(s) closed"


def voice_close(code: int) -> Fault:
    async def close(soak: Soak) -> str:
        guild = soak.pick_guild()
        await soak.sandbox.faults.close_voice(guild.guild, code)
        return f"{guild.guild.name}: voice closed with {code}"

    return close


async def kick(soak: Soak) -> str:
    guild = soak.pick_guild()
    await soak.sandbox.faults.kick_from_voice(guild.guild)
    return f"{guild.guild.name}: kicked from voice"


async def move(soak: Soak) -> str:
    guild = soak.pick_guild()
    await soak.sandbox.faults.move_voice(guild.guild, guild.lounge.id)
    return f"{guild.guild.name}: dragged to #{guild.lounge.name}"


async def udp_silence(soak: Soak) -> str:
    soak.sandbox.faults.stop_udp()
    await asyncio.sleep(UDP_SILENCE)
    soak.sandbox.faults.resume_udp()
    return f"no UDP for {UDP_SILENCE:g} s"


def rest_failure(status: int) -> Fault:
    async def fail(soak: Soak) -> str:
        soak.sandbox.faults.fail_rest("*", "*", status, times=5, retry_after=1.0)
        await soak.nudge_rest()
        return f"the next 5 REST calls answer {status}"

    return fail


async def panel_flood(soak: Soak) -> str:
    """A crowd presses the panel's Search button at once; each must be answered within Discord's 3 s."""
    guild = soak.pick_guild()
    panel = soak.panel_message(guild)
    if panel is None:
        return "no panel yet: nothing pressed"
    members = soak.crowd[guild.guild.id]
    presses = await asyncio.gather(*(soak.sandbox.press(m, panel, SEARCH) for m in members))
    answered = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(3.0):
            for press in presses:
                await press.wait()
                answered += 1
    soak.flood_unanswered += len(presses) - answered
    return f"{guild.guild.name}: {answered} of {len(presses)} presses answered within 3 s"


async def socket_junk(soak: Soak) -> str:
    reader, writer = await asyncio.open_unix_connection(str(soak.paths.control_socket), limit=2**21)
    try:
        writer.write(
            b"\x00\xff not json {{{\n" + os.urandom(4096) + b"\n" + b"[" * (1024 * 1024 + 10) + b"\n"
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            await asyncio.wait_for(reader.read(65536), 2)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return "junk and a line over 1 MiB on the control socket"


async def slow_subscriber(soak: Soak) -> str:
    """A TUI that subscribes to everything and then stops reading for a while."""
    _, writer = await asyncio.open_unix_connection(str(soak.paths.control_socket))
    request = {"id": 1, "method": "subscribe", "params": {"topics": ["player", "listeners", "logs", "stats"]}}
    writer.write(json.dumps(request).encode() + b"\n")
    await writer.drain()
    await asyncio.sleep(5)
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return "a subscriber that read nothing for 5 s"


async def hung_track(soak: Soak) -> str:
    """The next surah's file becomes a FIFO nobody writes (a dying disk, a hung mount), and a guild is
    sent to it; the file comes back once the bot has moved on."""
    guild = soak.guilds[0]
    status = await soak.status_of(guild.guild.id)
    if status is None:
        return "no status: nothing done"
    surah = min(int(status["surah"]) + 2, 112)
    path = soak.track_path(surah)
    aside = path.with_name(path.name + ".aside")
    os.rename(path, aside)
    os.mkfifo(path)

    def restore() -> None:
        with contextlib.suppress(OSError):  # a reader blocked opening the FIFO gets EOF and moves on
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        os.unlink(path)
        os.rename(aside, path)

    soak.after_recovery.append(restore)  # once the bot has moved on (the soak times that)
    await soak.control(guild.guild.id, action="play", surah=surah)
    return f"{guild.guild.name}: surah {surah}'s file hung"


async def disk_full(soak: Soak) -> str:
    """The state's file system fills up while the bot flushes, then frees again."""
    filler = soak.paths.state_dir / "soak-filler"
    try:
        with open(filler, "wb") as output:
            chunk = b"\0" * (1 << 20)
            while True:
                try:
                    output.write(chunk)
                    output.flush()
                except OSError as exc:
                    if exc.errno == errno.ENOSPC:
                        break
                    raise
        await asyncio.sleep(DISK_FULL)
    finally:
        with contextlib.suppress(FileNotFoundError):
            filler.unlink()
    return f"the state's disk full for {DISK_FULL:g} s"


async def sigstop(soak: Soak) -> str:
    """Frozen longer than the watchdog: the supervisor aborts it, as systemd would, and starts it again."""
    soak.supervisor.signal(signal.SIGSTOP)
    await asyncio.sleep(soak.supervisor.watchdog_seconds + 2)
    soak.supervisor.signal(signal.SIGCONT)
    return f"SIGSTOP for {soak.supervisor.watchdog_seconds + 2:g} s"


def clock_step(hours: int) -> Fault:
    """The wall clock steps by an hour (NTP after a long drift, a VM resumed); the monotonic clock does
    not move, as with a real step (quranbot/soak/wallclock.py). The clock stays within an hour of true
    time, as NTP keeps it: a step that would leave that goes the other way."""

    async def step(soak: Soak) -> str:
        assert soak.wall_clock is not None
        seconds = hours * 3600
        if abs(soak.wall_clock.offset + seconds) > 3600:
            seconds = -seconds
        soak.wall_clock.step(seconds)
        return f"wall clock {seconds // 3600:+d} h (now {soak.wall_clock.offset // 3600:+d} h from true time)"

    return step


async def sigkill(soak: Soak) -> str:
    pid = soak.supervisor.pid
    soak.supervisor.signal(signal.SIGKILL)
    await soak.supervisor.exited(pid)
    soak.check_state_files("after SIGKILL")
    return "SIGKILL, restarted by the supervisor"


FAULTS: dict[str, Fault] = {
    "gateway drop": gateway_drop,
    "voice 4006": voice_close(4006),
    "voice 4014": voice_close(4014),
    "voice 4015": voice_close(4015),
    "voice 4022": voice_close(4022),
    "kick": kick,
    "move": move,
    "UDP silence": udp_silence,
    "REST 429": rest_failure(429),
    "REST 503": rest_failure(503),
    "panel flood": panel_flood,
    "socket junk": socket_junk,
    "slow subscriber": slow_subscriber,
    "hung track": hung_track,
    "disk full": disk_full,
    "SIGSTOP": sigstop,
    "clock +1 h": clock_step(+1),
    "clock -1 h": clock_step(-1),
    "SIGKILL": sigkill,
}


def can_mount() -> bool:
    return os.geteuid() == 0


CLOCK_STEPS = ("clock +1 h", "clock -1 h")


def available(can_tmpfs: bool, clock_left_out: str | None) -> tuple[list[str], dict[str, str]]:
    """The faults this machine can inject, and why each other one is left out (`clock_left_out`: why the
    wall clock cannot be stepped, or None when it can)."""
    left_out = {}
    if not can_tmpfs:
        left_out["disk full"] = "needs root to mount a small tmpfs for the state"
    if clock_left_out is not None:
        left_out.update(dict.fromkeys(CLOCK_STEPS, clock_left_out))
    return [name for name in FAULTS if name not in left_out], left_out


def draw(rng: random.Random, names: list[str]) -> str:
    return rng.choice(names)
