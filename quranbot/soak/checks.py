"""What the soak asserts, from the outside: the process's memory and descriptors over time, the playback
position across restarts, the state files after every kill, the listening seconds, and the log.

Each check returns figures a report can print and the problems it found (plain sentences); none reads
the bot's memory: only /proc, the state files, the control socket and the sandbox's ears.
"""

from __future__ import annotations

import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from quranbot.store.layout import STATE_FILES
from quranbot.store.storage import CorruptStateFile, parse_state_bytes

#: Log lines that mean an exception nobody handled: asyncio's, discord.py's for an event handler or its
#: audio thread, and a traceback after any line but discord.py's own handled reconnects.
UNHANDLED = re.compile(
    r"never retrieved|Unhandled exception|Exception in callback|Ignoring exception in"
    r"|Exception in voice thread"
)
HANDLED_BEFORE_TRACEBACK = re.compile(r"Reconnecting in|Attempting a reconnect|Disconnected from voice")


# -- memory and descriptors ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProcessSample:
    at: float  # seconds into the soak
    pid: int
    rss_kib: int
    fds: int


def sample_process(pid: int, at: float) -> ProcessSample | None:
    """RSS and open descriptors of `pid` now; None if it is gone (between a kill and the restart)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return ProcessSample(at, pid, int(found.group(1)) if found else 0, fds)


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per minute; 0 for fewer than two distinct times."""
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return 0.0
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    numerator = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    denominator = sum((x - mean_x) ** 2 for x in xs)
    return 60.0 * numerator / denominator


@dataclass(frozen=True)
class Growth:
    """Memory and descriptors of the longest-lived bot process of the run (each restart starts afresh,
    so slopes are taken within one process), after `warmup` seconds of it."""

    pid: int
    seconds: float
    samples: int
    rss_first_kib: int
    rss_last_kib: int
    rss_kib_per_minute: float
    fds_first: int
    fds_last: int
    fds_per_minute: float


def growth(samples: list[ProcessSample], warmup: float = 20.0) -> Growth | None:
    by_pid: dict[int, list[ProcessSample]] = {}
    for sample in samples:
        by_pid.setdefault(sample.pid, []).append(sample)
    longest = max(by_pid.values(), key=lambda s: s[-1].at - s[0].at, default=None)
    if longest is None:
        return None
    settled = [s for s in longest if s.at - longest[0].at >= warmup] or longest
    return Growth(
        pid=settled[0].pid,
        seconds=settled[-1].at - settled[0].at,
        samples=len(settled),
        rss_first_kib=settled[0].rss_kib,
        rss_last_kib=settled[-1].rss_kib,
        rss_kib_per_minute=slope_per_minute([(s.at, s.rss_kib) for s in settled]),
        fds_first=settled[0].fds,
        fds_last=settled[-1].fds,
        fds_per_minute=slope_per_minute([(s.at, s.fds) for s in settled]),
    )


# -- position across restarts ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Restart:
    """Where a guild was just before the bot died, and where the new process resumed."""

    guild_id: int
    cause: str
    before_frames: int
    after_frames: int

    @property
    def lost_frames(self) -> int:
        return self.before_frames - self.after_frames


def absolute_frames(surah: int, position_frames: int, frames_per_surah: int) -> int:
    """The position counted from 1:1, for a library whose surahs all last `frames_per_surah`."""
    return (surah - 1) * frames_per_surah + position_frames


# -- state files -----------------------------------------------------------------------------------------
def unloadable_state_files(state_dir: Path) -> list[str]:
    """Each state file that exists but does not parse, with why; the damaged copies a repair set aside."""
    problems = []
    for name in STATE_FILES:
        path = state_dir / name
        try:
            parse_state_bytes(path, path.read_bytes())
        except FileNotFoundError:
            continue
        except CorruptStateFile as exc:
            problems.append(str(exc))
    problems += [f"{p.name} was set aside as damaged" for p in state_dir.glob("*.corrupt-*")]
    return problems


# -- the log ---------------------------------------------------------------------------------------------
@dataclass
class LogFindings:
    unhandled: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def read_log(path: Path) -> LogFindings:
    """Unhandled exceptions (with the line), and ERROR/CRITICAL lines counted by their message, ids and
    numbers blurred so that one kind of error is one row."""
    findings = LogFindings()
    if not path.exists():
        return findings
    previous = ""
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("Traceback (most recent call last)"):
            if not HANDLED_BEFORE_TRACEBACK.search(previous):
                findings.unhandled.append(f"a traceback after: {previous.strip()}")
            continue
        if line[:1].isspace() or not line.strip():
            continue  # a traceback's body
        previous = line
        if UNHANDLED.search(line):
            findings.unhandled.append(line.strip())
        elif re.search(r"\b(ERROR|CRITICAL)\b", line):
            message = re.sub(r"\d+", "N", line.split("ERROR", 1)[-1].split("CRITICAL", 1)[-1]).strip()
            findings.errors[message[:140]] += 1
    return findings
