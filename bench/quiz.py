"""The quiz under a crowd, and leaderboards at scale. Figures, not pass/fail.

clicks:      the real bot (`quranbot run`, its own process, reciting the sample reciter meanwhile) on
             the sandbox (this process). Baseline: one member answers a question, alone (median of
             --baseline runs). Crowd: --members members click the same question within one second
             (uniformly spread). Each ack time is from the sandbox dispatching the click
             (INTERACTION_CREATE) to the bot's interaction callback arriving; Discord's deadline is 3 s.
             The sandbox shares this process with the click scripting, so its own overhead is in the
             figures (an upper bound on what the bot costs).
leaderboard: --scores members' records in memory (as QuizHost keeps them): ranking one period and
             drawing the first page's embed (median of --runs), and, for comparison, reading the
             same records back from a TinyDB quiz.json (what the bot does once per guild at start).

Reproduce: .venv/bin/python bench/quiz.py [--members 200] [--spread 1.0] [--baseline 5] [--scores 100000]
           [--runs 5] [--only clicks|leaderboard]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from quranbot.paths import Paths
from quranbot.sandbox.interactions import InteractionRecord
from quranbot.sandbox.model import Channel, Member, Message
from quranbot.sandbox.server import Sandbox

HERE = Path(__file__).resolve()
HEADER = """\
[bank]
name = "Bench letters"
"""
QUESTION = """
[[questions]]
id = "bench-second-letter-{n}"
category = "history"
difficulty = "beginner"
question = "Bench question {n}: which of these is the second letter of the Greek alphabet?"
choices = ["Alpha", "Beta", "Gamma", "Delta"]
answer = "B"
explanation = "alpha, beta, gamma, delta."
references = [{{ source = "The Greek alphabet", url = "https://en.wikipedia.org/wiki/Greek_alphabet" }}]
"""


def quranbot(home: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "quranbot", "--home", str(home), *args], check=True, capture_output=True
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def ask(sandbox: Sandbox, channel: Channel) -> Message:
    """A question in `channel` (one channel per question: one question at a time per channel)."""
    d = sandbox.default
    before = {m.id for m in sandbox.messages(channel, include_ephemeral=False)}
    asked = await sandbox.run_command(d.admin, channel, "quiz", start={"category": "history"})
    await asked.wait_for_followups(timeout=15)
    async with asyncio.timeout(10):
        while True:
            new = [
                m
                for m in sandbox.messages(channel, include_ephemeral=False)
                if m.id not in before and m.embeds
            ]
            if new:
                return new[0]
            await asyncio.sleep(0.01)


async def timed_click(sandbox: Sandbox, member: Member, message: Message, delay: float) -> float:
    await asyncio.sleep(delay)
    custom_id = next(
        c["custom_id"]
        for row in message.components
        for c in row["components"]
        if c["custom_id"].endswith(":1")
    )
    started = time.perf_counter()
    record: InteractionRecord = await sandbox.press(member, message, custom_id)
    await record.wait(timeout=30)
    return time.perf_counter() - started


async def clicks(args: argparse.Namespace, tmp: Path) -> None:
    home = tmp / "home"
    bank = tmp / "bench.toml"
    bank.write_text(HEADER + "".join(QUESTION.format(n=n) for n in range(args.baseline + 2)))
    quranbot(home, "reciter", "sample", "--seconds", "30")
    quranbot(home, "quiz", "import", str(bank))
    paths = Paths.under(home)
    async with Sandbox(paths.sandbox_dir) as sandbox:
        d = sandbox.default
        crowd = await sandbox.add_members(args.members)
        channels = [sandbox.world.add_channel(d.guild, f"bench-{n}") for n in range(args.baseline)]
        log = (tmp / "bot.log").open("wb")
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "quranbot", "--home", str(home), "run", "--sandbox", sandbox.url,
            "--voice-channel", str(d.voice.id), stdout=log, stderr=log, env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
        try:
            await sandbox.wait_for_ready(30)
            await sandbox.wait_for_voice(d.guild, d.application.bot.id, d.voice.id, timeout=30)
            await asyncio.sleep(3)  # discord.py's guild_ready_timeout, then the command sync
            baseline = []
            for index in range(args.baseline):
                message = await ask(sandbox, channels[index])
                baseline.append(await timed_click(sandbox, crowd[index], message, 0.0))
                await asyncio.sleep(0.2)
            message = await ask(sandbox, d.general)
            rng = random.Random(7)
            times = await asyncio.gather(
                *(timed_click(sandbox, m, message, rng.uniform(0, args.spread)) for m in crowd)
            )
        finally:
            bot.terminate()
            await bot.wait()
            log.close()
    base = statistics.median(baseline)
    p50, p99 = percentile(list(times), 0.5), percentile(list(times), 0.99)
    late = sum(1 for t in times if t >= 3.0)
    print(f"clicks: baseline (1 member, median of {len(baseline)}): {base * 1000:.1f} ms")
    print(
        f"clicks: {args.members} members within {args.spread:g} s: "
        f"p50 {p50 * 1000:.1f} ms ({p50 / base:.1f}x), "
        f"p99 {p99 * 1000:.1f} ms ({p99 / base:.1f}x), max {max(times) * 1000:.1f} ms; "
        f"{args.members - late} of {args.members} acknowledged inside 3 s"
    )


def leaderboard(args: argparse.Namespace, tmp: Path) -> None:
    from quranbot import ranking
    from quranbot.bot.leaderboard_view import leaderboard_embed
    from quranbot.quiz import leaderboard as lb
    from quranbot.store.records import QuizScore
    from quranbot.store.state import StateStore

    rng = random.Random(3)
    today = datetime.date(2026, 12, 2)
    days = [(today - datetime.timedelta(days=n)).isoformat() for n in range(40)]
    scores = [
        QuizScore(1, 10**17 + n, points=rng.randint(0, 5000), answered=100, correct=60,
                  daily={d: rng.randint(0, 60) for d in rng.sample(days, 10)})
        for n in range(args.scores)
    ]  # fmt: skip

    class Board:
        """The quiz board's drawing, over these scores (the bot's QuizBoard needs a running QuizHost)."""

        name, title, empty = "quiz", "Quiz leaderboard", ""

        def ranking(self, guild_id: int, period: ranking.Period) -> list[ranking.Ranked]:
            return lb.rank(scores, period, today)

        def value(self, points: int) -> str:
            return f"{points:,} points"

        def today(self) -> datetime.date:
            return today

    board = Board()
    figures = {}
    for period in ranking.PERIODS:
        runs = []
        for _ in range(args.runs):
            started = time.perf_counter()
            ranked = board.ranking(1, period)
            embed = leaderboard_embed(
                board,
                period,
                ranking.page(ranked, 0),
                0,
                ranking.page_count(ranked),
                ranking.find(ranked, scores[-1].user_id),
            )
            embed.to_dict()
            runs.append(time.perf_counter() - started)
        figures[period] = statistics.median(runs)
    paths = Paths.under(tmp / "store")
    with StateStore(paths.state_dir, paths.backups_dir) as store:
        store.save_quiz_scores(1, scores)
    reads = []
    for _ in range(max(1, args.runs // 2)):
        with StateStore(paths.state_dir, paths.backups_dir) as store:
            started = time.perf_counter()
            store.quiz_scores(1)
            reads.append(time.perf_counter() - started)
    size = (paths.state_dir / "quiz.json").stat().st_size
    shown = ", ".join(f"{p} {s * 1000:.0f} ms" for p, s in figures.items())
    print(f"leaderboard: {args.scores:,} members, rank + first page (median of {args.runs}): {shown}")
    print(
        f"leaderboard: the same records read from quiz.json ({size / 1048576:.1f} MiB): "
        f"{statistics.median(reads) * 1000:.0f} ms (once per guild per start; "
        f"{statistics.median(reads) / figures['all']:.1f}x a ranking)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--baseline", type=int, default=5)
    parser.add_argument("--spread", type=float, default=1.0, help="seconds the crowd's clicks spread over")
    parser.add_argument("--scores", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=("clicks", "leaderboard"))
    args = parser.parse_args()
    print(f"bench/quiz.py: {' '.join(sys.argv[1:]) or '(defaults)'}")
    with tempfile.TemporaryDirectory(prefix="quranbot-bench-quiz-") as tmp:
        if args.only in (None, "clicks"):
            asyncio.run(clicks(args, Path(tmp)))
        if args.only in (None, "leaderboard"):
            leaderboard(args, Path(tmp))


if __name__ == "__main__":
    main()
