"""Start-up of sharded QuranBot: seconds from starting the processes until every guild's voice channel
hears the bot, for one unsharded `quranbot run` and for two shard processes started together, each
holding half of the same guilds, on the sandbox. Also each process's peak memory (RSS) after a few
seconds of reciting.

Reproduce: .venv/bin/python bench/shard_startup.py [--guilds 8] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from quranbot.audio.sample import write_sample_reciter
from quranbot.config.schema import Config
from quranbot.config.write import write_config
from quranbot.paths import Paths
from quranbot.sandbox.defaults import DefaultGuild, add_guild_with_bot
from quranbot.sandbox.server import Sandbox


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def one_run(library: Path, guild_count: int, shards: int | None) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        paths = Paths.under(home)
        shutil.copytree(library, paths.audio_dir)
        if shards is not None:
            write_config(paths.config_file, Config(shard_count=shards))
        async with Sandbox(Path(tmp) / "sandbox") as sandbox:
            app = sandbox.default.application
            guilds: list[DefaultGuild] = [
                add_guild_with_bot(sandbox.world, app, f"G{i}", shard=(i % 2, 2))
                for i in range(guild_count - 1)
            ]
            guilds.append(sandbox.default)
            channels = [a for g in guilds for a in ("--voice-channel", str(g.voice.id))]
            token = str(sandbox.directory / "token")
            base = [sys.executable, "-m", "quranbot", "--home", str(home), "run", "--sandbox", sandbox.url,
                    "--sandbox-cert", str(sandbox.cert_file), "--token-file", token, *channels]  # fmt: skip
            commands = [base] if shards is None else [[*base, "--shard-ids", str(s)] for s in range(shards)]
            started = time.perf_counter()
            processes = [
                await asyncio.create_subprocess_exec(
                    *c, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
                )
                for c in commands
            ]
            try:
                listeners = [sandbox.listener(g.voice) for g in guilds]
                await asyncio.gather(*(listener.wait_for_packets(1, timeout=150) for listener in listeners))
                elapsed = time.perf_counter() - started
                await asyncio.sleep(3)
                memory = [rss_mib(p.pid) for p in processes]
            finally:
                for process in processes:
                    process.send_signal(signal.SIGTERM)
                await asyncio.gather(*(p.wait() for p in processes))
            return elapsed, memory


async def main(guilds: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        library = Path(tmp) / "audio"
        write_sample_reciter(library, seconds=2.0, surahs=range(1, 4))
        print(f"{guilds} guilds, {runs} runs each, {os.cpu_count()} CPUs")
        for label, shards in (("1 process, unsharded", None), ("2 shard processes", 2)):
            results = [await one_run(library, guilds, shards) for _ in range(runs)]
            times = [r[0] for r in results]
            memory = [m for r in results for m in r[1]]
            spread = f"median; min {min(times):.2f}, max {max(times):.2f}"
            print(
                f"{label:24} all {guilds} guilds heard after {statistics.median(times):.2f} s ({spread}); "
                f"RSS per process {statistics.median(memory):.0f} MiB"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--guilds", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.guilds, arguments.runs))
