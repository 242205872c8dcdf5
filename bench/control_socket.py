"""The control socket under load: what publishing costs the bot's event loop, and what subscribers get.

The bot process is this one: a real `ControlServer` publishing player-status events (the size the bot
really sends) flat out. The subscribers are a separate process (one event loop, N connections, each
subscribed to `player`), so their reading does not share this process's CPU accounting. Baseline in
the same run: one subscriber.

Per run: the bot-side cost per published event (wall time inside `publish`, and the whole process's
CPU per event, which includes writing to every socket), the events each subscriber received or was told
it lost (`dropped`), and the delivered rate.

Reproduce: .venv/bin/python bench/control_socket.py [--subscribers 1,10,100] [--events N] [--rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quranbot.control.client import ControlClient
from quranbot.control.protocol import Request
from quranbot.control.server import Connection, ControlServer

#: A GuildStatus as the bot sends it (docs/PROTOCOL.md), about 750 bytes of JSON.
STATUS: dict[str, Any] = {
    "guild_id": "1575316373012217866", "guild_name": "Sandbox Guild", "channel_id": "1575316373012217870",
    "channel_name": "Quran", "state": "playing", "reciter": "mishary-alafasy",
    "reciter_name": "Mishary Rashid Alafasy", "surah": 18, "surah_name": "Al-Kahf",
    "surah_english": "The Cave",
    "surah_arabic": "الكهف", "ayah": None, "ayah_count": 110, "position": 312.4, "duration": 2661.2,
    "loop": False, "shuffle": False,
    "listeners": [{"id": str(1575316373012217900 + i), "name": f"listener{i}"} for i in range(5)],
    "connection": {"state": "connected", "latency_ms": 41.2, "recoveries": 0},
    "last_action": {"what": "Playing 18. Al-Kahf", "who": "root (terminal)"}, "sent_at": 1764118800.123,
}  # fmt: skip


class Quiet:
    """The server's handler for the bench: no snapshot, so every event counted is a published one."""

    async def handle(self, request: Request, connection: Connection) -> Any:
        return {}

    def snapshot(self, topic: str) -> list[tuple[str, Any]]:
        return []


@dataclass
class Run:
    subscribers: int
    publish_us: float  # wall time inside publish(), per event
    process_cpu_us: float  # this process's CPU per event, socket writes included
    received: list[int]
    dropped: list[int]
    seconds: float  # first event published to the last subscriber done

    @property
    def delivered_per_second(self) -> float:
        return sum(self.received) / self.seconds


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def one_run(subscribers: int, events: int, rate: float) -> Run:
    with tempfile.TemporaryDirectory(prefix="quranbot-bench-") as tmp:
        path = Path(tmp) / "control.sock"
        server = ControlServer(path, Quiet(), max_clients=subscribers + 8)
        await server.start()
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--child", str(path), str(subscribers), stdout=asyncio.subprocess.PIPE
        )
        try:
            async with asyncio.timeout(60):
                while server.subscribers("player") < subscribers:
                    await asyncio.sleep(0.01)
            in_publish = 0.0
            started_cpu, started = cpu(), time.perf_counter()
            for number in range(events):
                status = {**STATUS, "position": number / 50}
                before = time.perf_counter()
                server.publish("player", status)
                in_publish += time.perf_counter() - before
                if rate > 0:
                    await asyncio.sleep(max(0.0, started + (number + 1) / rate - time.perf_counter()))
                elif number % 50 == 49:
                    await asyncio.sleep(0)  # let the writers run, as the bot's loop would
            server.publish("player", {"end": True})
            assert child.stdout is not None
            report = json.loads(await asyncio.wait_for(child.stdout.readline(), 120))
            seconds = time.perf_counter() - started
            spent = cpu() - started_cpu
        finally:
            await server.close()
            await child.wait()
    return Run(subscribers, in_publish / events * 1e6, spent / events * 1e6, report["received"],
               report["dropped"], seconds)  # fmt: skip


async def child(path: Path, count: int) -> None:
    """N subscribers in one process; prints what each received once every one has seen the end."""
    clients = [await ControlClient.connect(path) for _ in range(count)]
    for client in clients:
        await client.subscribe("player")
    received, dropped = [0] * count, [0] * count

    async def drain(index: int, client: ControlClient) -> None:
        while True:
            name, data = await client.events.get()
            if name == "dropped":
                dropped[index] += data["count"]
            elif data.get("end"):
                return
            else:
                received[index] += 1

    await asyncio.gather(*(drain(i, c) for i, c in enumerate(clients)))
    print(json.dumps({"received": received, "dropped": dropped}), flush=True)
    for client in clients:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subscribers", default="1,10,100")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.0, help="events a second (0: flat out)")
    parser.add_argument("--child", nargs=2, metavar=("SOCKET", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(Path(args.child[0]), int(args.child[1])))
        return
    counts = [int(n) for n in args.subscribers.split(",")]
    results: dict[int, list[Run]] = {n: [] for n in counts}
    for _ in range(args.runs):
        for n in counts:  # interleaved, so noise hits every size alike
            results[n].append(asyncio.run(one_run(n, args.events, args.rate)))

    pace = "flat out" if args.rate <= 0 else f"at {args.rate:g} a second"
    size = len(json.dumps(STATUS, ensure_ascii=False).encode())
    print(f"{args.events} player events (~{size} bytes each) published {pace}; median of {args.runs} runs")
    print(f"{'subscribers':>11} {'publish us/event':>17} {'bot CPU us/event':>17} {'x 1 sub':>8} "
          f"{'delivered/s (all)':>18} {'lost (dropped)':>15}")  # fmt: skip
    base = statistics.median(r.process_cpu_us for r in results[counts[0]])
    for n in counts:
        runs = results[n]
        cpu_us = statistics.median(r.process_cpu_us for r in runs)
        lost = statistics.median(sum(r.dropped) for r in runs)
        delivered = statistics.median(r.delivered_per_second for r in runs)
        received = statistics.median(sum(r.received) for r in runs)
        assert all(sum(r.received) + sum(r.dropped) == n * args.events for r in runs), (
            "events unaccounted for"
        )
        print(f"{n:>11} {statistics.median(r.publish_us for r in runs):>17.1f} {cpu_us:>17.1f} "
              f"{cpu_us / base:>8.1f} {delivered:>18,.0f} {lost:>8.0f} of {received + lost:,.0f}"
              )  # fmt: skip
    print(f"reproduce: .venv/bin/python bench/control_socket.py --subscribers {args.subscribers} "
          f"--events {args.events} --runs {args.runs} --rate {args.rate:g}")  # fmt: skip


if __name__ == "__main__":
    main()
