"""What the audit trail costs the bot's event loop: one record written at once, against handing each
record to a thread (`asyncio.to_thread`), and the loop's lag during a burst of records.

Per way of writing: the time each `record()` call holds the event loop (p50, p99, max over N records,
a realistic ~300-byte record of a slash command, rotation at the default 1 MiB included), and the
loop lag (p99, max: how late a 1 ms timer fires) while records are written at RATE a second, against
the same timer with nothing written, in the same run.

Reproduce: .venv/bin/python bench/audit.py [--records N] [--rate R] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from quranbot.audit.record import AuditRecord
from quranbot.audit.writer import AuditLog
from quranbot.secret import Secret


def sample(n: int) -> AuditRecord:
    return AuditRecord.create(
        "discord", "Aisha", "play", actor_id=157531637301221786, guild_id=1575316373012217866,
        channel_id=1575316373012217870, args={"surah": n % 114 + 1, "reciter": "mishary-alafasy"},
    )  # fmt: skip


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    middle = statistics.median(ordered)
    return f"p50 {middle * 1e6:7.1f} µs  p99 {p99 * 1e6:7.1f} µs  max {ordered[-1] * 1e6:8.1f} µs"


async def held_direct(trail: AuditLog, count: int) -> tuple[list[float], list[float]]:
    """Each `record()` call (the record built beforehand, as the caller does), and those that rotated."""
    held, rotations = [], []
    for record in [sample(n) for n in range(count)]:
        before = trail.path.stat().st_size
        started = time.perf_counter()
        trail.record(record)
        spent = time.perf_counter() - started
        (rotations if trail.path.stat().st_size < before else held).append(spent)
    return held, rotations


async def held_thread(trail: AuditLog, count: int) -> list[float]:
    """The loop's own share of a hand-off: the future, the task's first step and the wake-up after."""
    held = []
    for record in [sample(n) for n in range(count)]:
        started = time.perf_counter()
        future = asyncio.ensure_future(asyncio.to_thread(trail.record, record))
        await asyncio.sleep(0)  # the task starts and hands the call to the thread
        spent = time.perf_counter() - started
        await future
        started = time.perf_counter()
        await asyncio.sleep(0)  # the loop's turn that resumes the waiter
        held.append(spent + time.perf_counter() - started)
    return held


async def lag_during(
    write: Callable[[int], Awaitable[None]] | None, rate: float, seconds: float
) -> list[float]:
    """How late a 1 ms timer fires while `write` runs RATE times a second (None: nothing written)."""
    lags: list[float] = []
    stop = time.monotonic() + seconds

    async def writer() -> None:
        n = 0
        while time.monotonic() < stop and write is not None:
            await write(n)
            n += 1
            await asyncio.sleep(1 / rate)

    task = asyncio.create_task(writer())
    while time.monotonic() < stop:
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - started - 0.001)
    await task
    return lags


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as directory,
        AuditLog(Path(directory), secrets=[Secret("MTIz.fake.token")]) as trail,
    ):
        built = []
        for n in range(args.records):
            started = time.perf_counter()
            sample(n)
            built.append(time.perf_counter() - started)
        held, rotations = await held_direct(trail, args.records)
        print(f"{args.records} records, each on the loop:")
        print(f"  building the record      {percentiles(built)}  (the caller's share, either way)")
        print(f"  written at once          {percentiles(held)}")
        print(f"    the {len(rotations)} that rotated  {percentiles(rotations)}")
        print(f"  handed to a thread       {percentiles(await held_thread(trail, args.records // 10))}")
        print(f"loop lag (1 ms timer) over {args.seconds:g} s, {args.rate:g} records/s:")
        print(f"  nothing written          {percentiles(await lag_during(None, args.rate, args.seconds))}")

        async def direct(n: int) -> None:
            trail.record(sample(n))

        async def threaded(n: int) -> None:
            await asyncio.to_thread(trail.record, sample(n))

        print(f"  written at once          {percentiles(await lag_during(direct, args.rate, args.seconds))}")
        print(
            f"  handed to a thread       {percentiles(await lag_during(threaded, args.rate, args.seconds))}"
        )
        size = sum(p.stat().st_size for p in Path(directory).iterdir())
        print(f"on disk: {len(list(Path(directory).iterdir()))} files, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    asyncio.run(main())
