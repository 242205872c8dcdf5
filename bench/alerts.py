"""What a burst of errors costs the bot's event loop with alerts on: p99 loop lag while 10,000 error
records a second are logged, with the alert handler installed (and its sender posting to a webhook) and
without it, alternating in the same run.

The bot's side is this process's event loop: a task logs ERROR records at the rate asked (in chunks every
10 ms, as a failing loop would), a probe task measures how late its 5 ms sleeps wake up (the loop lag a
voice watchdog or a slash command would feel), and, with alerts, the real `AlertHandler` and
`AlertSender` post to a webhook on a sandbox. The sandbox runs on its own event loop in another thread,
so its work is not counted as the bot's. Both modes log through the same plain handler (to /dev/null),
as `quranbot run` logs under systemd. CPU is the event loop thread's own (`time.thread_time`): logging,
the alert handler, and the sender's HTTP client, without the sandbox.

Reproduce: .venv/bin/python bench/alerts.py [--rate 10000] [--seconds 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from quranbot.alerts.handler import AlertHandler
from quranbot.alerts.queue import AlertQueue
from quranbot.alerts.sender import AlertSender
from quranbot.alerts.webhook import WebhookDestination
from quranbot.log_setup import RedactingFilter
from quranbot.sandbox.model import Webhook
from quranbot.sandbox.server import Sandbox
from quranbot.secret import Secret

PROBE_SECONDS = 0.005
CHUNK_SECONDS = 0.010
log = logging.getLogger("quranbot.bench.failing")


@dataclass
class Run:
    alerts: bool
    p50_ms: float
    p99_ms: float
    max_ms: float
    records: int
    cpu_us_per_record: float
    messages: int = 0
    accounted: int = 0


class SandboxThread:
    """A sandbox on its own event loop in a thread: the bot's loop pays only for its own side."""

    def __init__(self, directory: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.sandbox = Sandbox(directory)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> SandboxThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sandbox.start(), self.loop).result(30)
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.sandbox.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def webhook(self) -> Webhook:
        channel = self.sandbox.default.general
        return asyncio.run_coroutine_threadsafe(self.sandbox.create_webhook(channel), self.loop).result(10)

    def posted(self, hook: Webhook) -> tuple[int, int]:
        """Messages the webhook posted, and the alerts they account for (embeds + "and N more")."""
        messages = [m for m in self.sandbox.messages(self.sandbox.default.general)
                    if m.payload.get("webhook_id") == str(hook.id)]  # fmt: skip
        more = 0
        for message in messages:
            words = message.content.split()
            if "more" in words:
                more += int(words[words.index("more") - 1])
        return len(messages), sum(len(m.embeds) for m in messages) + more


@contextmanager
def plain_logging() -> Iterator[None]:
    """The root logger as under systemd: one plain line per record (to /dev/null here)."""
    root = logging.getLogger()
    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.handlers[:], root.level = saved
        sink.close()


async def probe(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(PROBE_SECONDS)
        lags.append(time.monotonic() - before - PROBE_SECONDS)


async def emit(rate: int, seconds: float) -> int:
    """`rate` error records a second for `seconds`, in chunks every 10 ms; how many were logged."""
    per_chunk = max(1, round(rate * CHUNK_SECONDS))
    start, count, chunk = time.monotonic(), 0, 0
    while time.monotonic() - start < seconds:
        for _ in range(per_chunk):
            log.error("Could not save state (%s): attempt %d", "No space left on device", count)
            count += 1
        chunk += 1
        await asyncio.sleep(max(0.0, start + chunk * CHUNK_SECONDS - time.monotonic()))
    return count


async def one_run(sandbox: SandboxThread, alerts: bool, rate: int, seconds: float) -> Run:
    hook = sandbox.webhook()
    root = logging.getLogger()
    session = aiohttp.ClientSession(connector=sandbox.sandbox.connector())
    handler: AlertHandler | None = None
    task: asyncio.Task[None] | None = None
    sender: AlertSender | None = None
    if alerts:
        queue = AlertQueue()
        handler = AlertHandler(queue, RedactingFilter([Secret(sandbox.sandbox.token), Secret(hook.url)]))
        sender = AlertSender(queue, WebhookDestination(Secret(hook.url), session))
        task = asyncio.create_task(sender.run())
        root.addHandler(handler)
    lags: list[float] = []
    stop = asyncio.Event()
    probing = asyncio.create_task(probe(lags, stop))
    cpu = time.thread_time()  # this thread only: the bot's loop, not the sandbox's
    try:
        records = await emit(rate, seconds)
    finally:
        used = time.thread_time() - cpu
        stop.set()
        await probing
        if handler is not None:
            root.removeHandler(handler)
        if sender is not None and task is not None:
            await sender.flush(10)
            task.cancel()
        await session.close()
    ordered = sorted(lags)
    messages, accounted = sandbox.posted(hook) if alerts else (0, 0)
    return Run(
        alerts=alerts,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[int(len(ordered) * 0.99)] * 1000,
        max_ms=ordered[-1] * 1000,
        records=records,
        cpu_us_per_record=used / records * 1e6,
        messages=messages,
        accounted=accounted,
    )


async def bench(rate: int, seconds: float, runs: int) -> list[Run]:
    results: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp, SandboxThread(Path(tmp)) as sandbox, plain_logging():
        await one_run(sandbox, True, rate, 0.5)  # warm up: imports, TLS, the first connection
        for _ in range(runs):
            for alerts in (False, True):
                results.append(await one_run(sandbox, alerts, rate, seconds))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=int, default=10_000, help="error records a second")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each mode (alternating)")
    args = parser.parse_args()
    results = asyncio.run(bench(args.rate, args.seconds, args.runs))
    print(f"{args.rate} error records/s for {args.seconds:g} s, loop lag probed every 5 ms, "
          f"medians of {args.runs} runs each")  # fmt: skip
    print(f"{'mode':>16} {'p50 lag ms':>11} {'p99 lag ms':>11} {'max ms':>8} {'CPU us/record':>14} "
          f"{'records':>8} {'messages':>9} {'alerts counted':>15}")  # fmt: skip
    medians: dict[bool, Run] = {}
    for alerts in (False, True):
        mine = [r for r in results if r.alerts == alerts]
        median = Run(
            alerts,
            statistics.median(r.p50_ms for r in mine),
            statistics.median(r.p99_ms for r in mine),
            statistics.median(r.max_ms for r in mine),
            round(statistics.median(r.records for r in mine)),
            statistics.median(r.cpu_us_per_record for r in mine),
            round(statistics.median(r.messages for r in mine)),
            round(statistics.median(r.accounted for r in mine)),
        )
        medians[alerts] = median
        name = "alert handler" if alerts else "no alert handler"
        extra = f"{median.messages:>9} {median.accounted:>15}" if alerts else f"{'-':>9} {'-':>15}"
        print(f"{name:>16} {median.p50_ms:>11.3f} {median.p99_ms:>11.3f} {median.max_ms:>8.2f} "
              f"{median.cpu_us_per_record:>14.1f} {median.records:>8} {extra}")  # fmt: skip
    base, on = medians[False], medians[True]
    print(f"ratio with/without: p99 lag {on.p99_ms / base.p99_ms:.2f}x, "
          f"CPU per record {on.cpu_us_per_record / base.cpu_us_per_record:.2f}x")  # fmt: skip
    print(f"reproduce: .venv/bin/python bench/alerts.py --rate {args.rate} --seconds {args.seconds:g} "
          f"--runs {args.runs}")  # fmt: skip


if __name__ == "__main__":
    main()
