"""Listening statistics at scale: the statistics flush, /leaderboard listening, and tracking 99 members
next to the audio thread. Figures, not pass/fail; each compared with a baseline in the same run.

records:     realistic ones, made by the real code: for each of --templates members, 35 days of
             synthetic sessions (one a day, 10-60 min, accrued in 15-300 s pieces on 1 of the member's
             1-3 reciters and ~10 surahs) through `open_session`/`accrue`/`close_session`, then
             `credit_surah` for 30 surahs and `earn`. The other members are copies of these with their own
             id, and their total and daily seconds scaled by a random factor (0.5-1.5); a copy shares its
             template's other lists unless it is one this bench changes (JSON encodes the same either way).
flush:       1% of members (at least 1) change (a 15 s `accrue` each), then
             `StateStore.flush(statistics=True)`. Baseline: plain TinyDB (`TinyDB(path,
             storage=JSONStorage)`, one `table.upsert(Document(...))` per changed member) on a copy of the
             same file, writing the same changed records. Each plain upsert re-reads and rewrites the
             whole file, so past a time budget only some are timed and the total is their median times
             the changed members (the table says how many were timed). The flush's JSON encode is timed
             on its own: one call into C that holds the GIL throughout, so no other thread runs.
leaderboard: `quranbot.listening.leaderboard.rank` for week/month/all plus the first page's embed
             (`leaderboard_embed`), against the obvious `sorted(records, key=lambda s: -total(s))` with a
             per-member sum of `daily`, on the same records.
cadence:     the bot's audio pacer (audio/pacer.py) ticking a `VoiceStream(Player)` on the sample reciter,
             each frame encrypted and sent as bench/frame_cost.py's `Frame` does (a stand-in voice client
             stamps every send). Gaps between frames: alone; while the event loop (this main thread)
             accrues + earns for 99 members every 0.25 s (the bot: every 15 s and on voice events; so an
             upper bound); the same plus a statistics flush of a --flush-members store every --flush-every
             seconds (the bot: every 30 s); and one flush of the largest store.

Reproduce: .venv/bin/python bench/listening.py [--members 100,10000,100000] [--runs 3] [--seconds 10]
           [--flush-every 2] [--flush-members 10000] [--only flush,leaderboard,cadence] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import itertools
import json
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from frame_cost import Frame
from playback import note, p99
from tinydb import TinyDB
from tinydb.storages import JSONStorage
from tinydb.table import Document

from quranbot.audio.library import Library
from quranbot.audio.pacer import Pacer
from quranbot.audio.player import Player, PlayerSettings
from quranbot.audio.sample import SAMPLE_SLUG, write_sample_reciter
from quranbot.bot.leaderboard_view import leaderboard_embed
from quranbot.bot.voice_stream import VoiceStream
from quranbot.listening import leaderboard
from quranbot.listening.accrual import accrue, open_session
from quranbot.listening.achievements import earn
from quranbot.listening.figures import format_duration
from quranbot.listening.synthetic import member_documents, template
from quranbot.ranking import PERIODS, Period, Ranked, find, page, page_count, period_start
from quranbot.store.layout import STATS
from quranbot.store.records import ListeningStats
from quranbot.store.state import StateStore
from quranbot.store.storage import ReusingJSONStorage

GUILD = 1
FIRST_USER = 10**17  # Discord ids are 18 digits, as the JSON keys are
TZ = ZoneInfo("Europe/London")
RECITERS = ("alafasy", "sudais", "husary", "minshawi", "shuraim", "ghamdi")
CHANGED_SHARE = 0.01
#: Seconds accrued per changed member before a timed flush (the bot's tick is 15 s).
CHANGE_SECONDS = 15.0
TRACKED = 99
REFRESH_EVERY = 0.25
#: Stop repeating a measurement once it has taken this long (it keeps at least one run).
BUDGET_SECONDS = 10.0
FRAME_MS = 20.0
#: A gap this long means a listener's buffer had to cover at least one missing frame.
LATE_GAP_MS = 2 * FRAME_MS


def today() -> datetime.date:
    return datetime.datetime.now(TZ).date()


# -- records ---------------------------------------------------------------------------------------------
def changed_users(members: int) -> list[int]:
    count = max(1, round(members * CHANGED_SHARE))
    return [FIRST_USER + index * (members // count) for index in range(count)]


def tracked_users(members: int) -> list[int]:
    return [FIRST_USER + members - 1 - index for index in range(min(TRACKED, members))]


@dataclass
class Population:
    members: int
    root: Path
    store: StateStore
    changed: list[int]
    tracked: list[int]

    @property
    def stats_path(self) -> Path:
        return self.store.state_dir / STATS

    def change(self) -> None:
        """What a flush writes: `changed` members each heard another 15 s (not timed)."""
        for user_id in self.changed:
            stats = self.store.buffered_listening(GUILD, user_id)
            start = max(stats.last_seen, time.time())
            accrue(stats, start, start + CHANGE_SECONDS, tz=TZ, reciter=RECITERS[0], surah=2)


def populate(root: Path, templates: list[dict[str, Any]], members: int) -> Population:
    """A store holding `members` records, written once, as the bot finds it after a restart."""
    changed, tracked = changed_users(members), tracked_users(members)
    documents = member_documents(templates, members, {*changed, *tracked}, random.Random(members))
    store = StateStore(root / "state", root / "backups").open()
    store._table(STATS, f"guild:{GUILD}").upsert_many(documents)
    del documents
    store.all_listening(GUILD)  # the records, loaded once into the store (as `_guild_listening` keeps them)
    return Population(members, root, store, changed, tracked)


# -- timing ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def timed_encodes() -> Iterator[list[float]]:
    """Seconds of each stats.json encode meanwhile (`ReusingJSONStorage.serialise`): the flush's part
    that holds the GIL."""
    times: list[float] = []
    original = ReusingJSONStorage.serialise

    def serialise(self: ReusingJSONStorage, data: Any) -> bytes:
        started = time.perf_counter()
        try:
            return original(self, data)
        finally:
            times.append(time.perf_counter() - started)

    ReusingJSONStorage.serialise = serialise  # type: ignore[method-assign]
    try:
        yield times
    finally:
        ReusingJSONStorage.serialise = original  # type: ignore[method-assign]


def repeat(action: Callable[[], None], runs: int, before: Callable[[], None] = lambda: None) -> list[float]:
    """Seconds of each run of `action` (`before` each, untimed); stops early past BUDGET_SECONDS."""
    times: list[float] = []
    while len(times) < runs and sum(times) < BUDGET_SECONDS:
        before()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def ms(seconds: float) -> float:
    return seconds * 1000


# -- 1. the statistics flush -----------------------------------------------------------------------------
@dataclass
class FlushFigures:
    members: int
    changed: int
    size_mib: float
    ours: list[float]
    encodes: list[float]
    plain_upserts: list[float]

    @property
    def plain_total(self) -> float:
        return statistics.median(self.plain_upserts) * self.changed


def bench_flush(population: Population, runs: int) -> FlushFigures:
    store = population.store
    with timed_encodes() as encodes:
        ours = repeat(lambda: store.flush(statistics=True), runs, before=population.change)
    size = population.stats_path.stat().st_size / 2**20
    plain_path = population.root / "plain.json"
    shutil.copyfile(population.stats_path, plain_path)  # the same data (its _meta table is one more table)
    # The same change: the changed members' records as QuranBot's last flush wrote them.
    records = {u: store.buffered_listening(GUILD, u) for u in population.changed}
    upserts: list[float] = []
    with TinyDB(plain_path, storage=JSONStorage) as db:
        table = db.table(f"guild:{GUILD}")
        for user_id, stats in records.items():
            if sum(upserts) >= BUDGET_SECONDS:
                break
            started = time.perf_counter()
            table.upsert(Document(stats.to_document(), doc_id=user_id))
            upserts.append(time.perf_counter() - started)
    plain_path.unlink()
    return FlushFigures(population.members, len(population.changed), size, ours, encodes, upserts)


# -- 2. /leaderboard listening ---------------------------------------------------------------------------
class Board:
    """The listening board's drawing (the bot's ListeningBoard needs a running tracker), over `records`."""

    name, title = "listening", "Listening leaderboard"
    empty = "Nobody has listened in this period yet: join the Quran voice channel."

    def __init__(self, records: list[ListeningStats], rank: Callable[..., list[Ranked]]) -> None:
        self.records = records
        self.rank = rank
        self.day = today()

    def ranking(self, guild_id: int, period: Period) -> list[Ranked]:
        return self.rank(self.records, period, self.day)

    def value(self, points: int) -> str:
        return format_duration(points)

    def today(self) -> datetime.date:
        return self.day


def naive_rank(records: list[ListeningStats], period: Period, day: datetime.date) -> list[Ranked]:
    """The obvious way: sort the records by their period's total, then number them (ties share a rank)."""
    start = period_start(period, day)
    first = start.isoformat() if start else ""

    def total(stats: ListeningStats) -> float:
        if start is None:
            return stats.seconds
        return sum(seconds for d, seconds in stats.daily.items() if d >= first)

    ranked: list[Ranked] = []
    place, previous = 0, -1
    for index, stats in enumerate(sorted(records, key=lambda s: -total(s))):
        seconds = round(total(stats))
        if seconds <= 0:
            break
        if seconds != previous:
            place, previous = index + 1, seconds
        ranked.append(Ranked(place, stats.user_id, seconds))
    return ranked


def draw(board: Board, period: Period, viewer: int) -> list[Ranked]:
    ranked = board.ranking(GUILD, period)
    embed = leaderboard_embed(board, period, page(ranked, 0), 0, page_count(ranked), find(ranked, viewer))
    embed.to_dict()
    return ranked


def bench_leaderboard(population: Population, runs: int) -> dict[Period, tuple[list[float], list[float]]]:
    records = population.store.all_listening(GUILD)
    viewer = records[-1].user_id
    ours, plain = Board(records, leaderboard.rank), Board(records, naive_rank)
    figures: dict[Period, tuple[list[float], list[float]]] = {}
    for period in PERIODS:
        a, b = draw(ours, period, viewer), draw(plain, period, viewer)
        assert [r.points for r in a[:10]] == [r.points for r in b[:10]] and len(a) == len(b), period
        ours_times: list[float] = []
        plain_times: list[float] = []
        for _ in range(runs):  # interleaved: noise hits both alike
            started = time.perf_counter()
            draw(ours, period, viewer)
            ours_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            draw(plain, period, viewer)
            plain_times.append(time.perf_counter() - started)
        figures[period] = (ours_times, plain_times)
    return figures


# -- 3. the audio thread's cadence -----------------------------------------------------------------------
class StampingVoice:
    """What the bot's VoiceStream asks of its VoiceClient. Each packet is encrypted and sent as the
    bot's voice client does (bench/frame_cost.py's Frame: RTP header, XChaCha20-Poly1305, one sendto),
    and the send is stamped."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.stamps: list[float] = []
        self.ws = self  # VoiceStream says "speaking" through `ws.speak()` on the loop

    def send_audio_packet(self, data: bytes, encode: bool = True) -> None:
        self.frame.send(self.frame.encrypt(data))
        self.stamps.append(time.perf_counter())

    def is_connected(self) -> bool:
        return True

    async def speak(self, state: Any) -> None:
        return None


@dataclass
class Cadence:
    label: str
    gaps_ms: list[float]
    refresh_cpu: list[float] = field(default_factory=list)
    flushes: list[float] = field(default_factory=list)
    encodes: list[float] = field(default_factory=list)
    #: Seconds the window lasted (longer than asked when a flush held the loop past its end).
    window: float = 0.0


class Tracking:
    """What the bot's ListeningTracker does per refresh for each counting member: accrue the interval
    since the last one, then `earn` (with the tracker's `today()` per member)."""

    def __init__(self, store: StateStore, members: list[int]) -> None:
        self.store = store
        self.members = members
        self.last: dict[int, float] = {}
        self.cpu: list[float] = []
        wall = time.time()
        for user_id in members:
            open_session(store.buffered_listening(GUILD, user_id), wall)
            self.last[user_id] = time.monotonic()

    def refresh(self) -> None:
        started = time.thread_time()
        now, wall = time.monotonic(), time.time()
        for user_id in self.members:
            stats = self.store.buffered_listening(GUILD, user_id)
            accrue(stats, wall - (now - self.last[user_id]), wall, tz=TZ, reciter=RECITERS[0], surah=2)
            earn(stats, today())
            self.last[user_id] = now
        self.cpu.append(time.thread_time() - started)


async def cadence(
    player: Player,
    seconds: float,
    label: str,
    tracking: Tracking | None = None,
    flush: Population | None = None,
    flush_every: float = 2.0,
    once: Population | None = None,
) -> Cadence:
    """Run the audio thread for `seconds` while the event loop does the work asked; its frames' gaps."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.connect(receiver.getsockname())  # nobody reads: loopback drops what overflows
    voice = StampingVoice(Frame(player, sender))
    result = Cadence(label, [])
    tasks: list[asyncio.Task[None]] = []

    async def refresher(work: Tracking) -> None:
        while True:
            await asyncio.sleep(REFRESH_EVERY)
            work.refresh()

    async def flusher(population: Population) -> None:
        while True:
            await asyncio.sleep(flush_every)
            started = time.perf_counter()
            population.store.flush(statistics=True)
            result.flushes.append(time.perf_counter() - started)

    with timed_encodes() as encodes:
        audio = Pacer()
        stream = VoiceStream(player, asyncio.get_running_loop())
        stream.attach(cast(Any, voice))
        audio.add(stream)
        await asyncio.sleep(0.5)  # warm up; the window starts here
        begin = time.perf_counter()
        if tracking is not None:
            tasks.append(asyncio.create_task(refresher(tracking)))
        if flush is not None:
            tasks.append(asyncio.create_task(flusher(flush)))
        if once is not None:
            await asyncio.sleep(1.0)
            once.change()
            started = time.perf_counter()
            once.store.flush(statistics=True)  # on the loop, as the bot's PeriodicFlusher does
            result.flushes.append(time.perf_counter() - started)
            await asyncio.sleep(1.0)
        else:
            await asyncio.sleep(seconds)
        end = time.perf_counter()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        audio.close()
    receiver.close()
    sender.close()
    stamps = [s for s in voice.stamps if begin <= s <= end]
    result.gaps_ms = [ms(b - a) for a, b in itertools.pairwise(stamps)]
    result.encodes = list(encodes)
    result.window = end - begin
    if tracking is not None:
        result.refresh_cpu, tracking.cpu = tracking.cpu, []
    return result


async def bench_cadence(
    player: Player, args: argparse.Namespace, tracked: Population, largest: Population | None
) -> list[Cadence]:
    results = [await cadence(player, args.seconds, "alone (baseline)")]
    note("cadence: tracking")
    tracking = Tracking(tracked.store, tracked.tracked)
    results.append(await cadence(player, args.seconds, f"+ {TRACKED} members tracked every 0.25 s", tracking))
    note("cadence: tracking + flushes")
    results.append(
        await cadence(
            player,
            args.seconds,
            f"+ the same, and a {tracked.members:,}-member statistics flush every {args.flush_every:g} s",
            tracking,
            flush=tracked,
            flush_every=args.flush_every,
        )
    )
    if largest is not None:
        note(f"cadence: one flush of {largest.members:,} members")
        results.append(
            await cadence(
                player, 0, f"one {largest.members:,}-member statistics flush (no tracking)", once=largest
            )
        )
    return results


# -- report ----------------------------------------------------------------------------------------------
def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report_flush(figures: list[FlushFigures]) -> None:
    print("\n1. statistics flush: 1% of members changed (at least 1; a 15 s accrue each), then written")
    print("   QuranBot = StateStore.flush(statistics=True); plain = TinyDB JSONStorage, one upsert each")
    print(
        f"{'members':>8} {'changed':>8} {'stats.json':>11} {'QuranBot ms':>12} {'runs':>5} "
        f"{'JSON encode ms':>15} {'plain TinyDB ms':>16} {'upserts timed':>14} {'plain/ours':>11}"
    )
    for f in figures:
        ours = med(f.ours)
        timed = f"{len(f.plain_upserts)} of {f.changed}"
        print(
            f"{f.members:>8,} {f.changed:>8,} {f.size_mib:>7.1f} MiB {ms(ours):>12.1f} {len(f.ours):>5} "
            f"{ms(med(f.encodes)):>15.1f} {ms(f.plain_total):>16,.0f} {timed:>14} "
            f"{f.plain_total / ours:>10.1f}x"
        )
    print(
        "   plain TinyDB ms = the median upsert x the changed members (each upsert reads and rewrites the"
        " whole file);\n   JSON encode = ReusingJSONStorage.serialise alone, which holds the GIL: no"
        " other thread (the audio thread) runs meanwhile"
    )
    for f in figures:
        print(
            f"   {f.members:>7,} members: the longest pause a statistics flush can cause the audio thread: "
            f"{ms(med(f.encodes)):,.0f} ms ({med(f.encodes) * 1000 / FRAME_MS:,.1f} frames of 20 ms); "
            f"the whole flush {ms(med(f.ours)):,.0f} ms on the event loop"
        )


def report_leaderboard(figures: dict[int, dict[Period, tuple[list[float], list[float]]]], runs: int) -> None:
    print(f"\n2. /leaderboard listening: rank + the first page's embed, ms (median of {runs})")
    print(f"{'members':>8} {'period':>7} {'QuranBot':>10} {'naive sorted(key=)':>19} {'naive/ours':>11}")
    for members, periods in figures.items():
        for period, (ours, plain) in periods.items():
            print(
                f"{members:>8,} {period:>7} {ms(med(ours)):>10.2f} {ms(med(plain)):>19.2f} "
                f"{med(plain) / med(ours):>10.2f}x"
            )


def report_cadence(results: list[Cadence], args: argparse.Namespace) -> None:
    print(
        f"\n3. the audio thread's cadence: the bot's pacer thread, one frame every 20 ms; "
        f"{args.seconds:g} s windows"
    )
    print(
        f"{'':66} {'window':>6} {'frames':>6} {'median':>7} {'p99':>7} {'max':>8} {'>40 ms':>6} "
        f"{'refresh CPU':>12} {'flush ms':>9} {'encode ms':>10}"
    )
    for r in results:
        cpu = f"{med(r.refresh_cpu) * 1e6:,.0f} us" if r.refresh_cpu else ""
        flushes = f"{ms(med(r.flushes)):,.0f} x{len(r.flushes)}" if r.flushes else ""
        encodes = f"{ms(max(r.encodes)):,.0f}" if r.encodes else ""
        late = sum(1 for g in r.gaps_ms if g > LATE_GAP_MS)
        print(
            f"{r.label:66} {r.window:>5.1f}s {len(r.gaps_ms) + 1:>6} {med(r.gaps_ms):>7.2f} "
            f"{p99(r.gaps_ms):>7.2f} {max(r.gaps_ms):>8.1f} {late:>6} {cpu:>12} {flushes:>9} {encodes:>10}"
        )
    print(
        "   gaps in ms between frames sent; refresh CPU = the event loop's CPU per refresh of the "
        f"{TRACKED} members (median); flush = median x count; encode = the longest JSON encode"
    )
    base = p99(results[0].gaps_ms)
    for r in results[1:3]:
        print(
            f"   p99 gap {p99(r.gaps_ms):.2f} ms vs {base:.2f} ms alone: "
            f"{p99(r.gaps_ms) - base:+.2f} ms ({r.label})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", default="100,10000,100000", help="store sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (flushes stop early past 10 s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="each cadence window")
    parser.add_argument("--flush-every", type=float, default=2.0)
    parser.add_argument("--flush-members", type=int, default=10_000, help="the store flushed meanwhile")
    parser.add_argument("--templates", type=int, default=200, help="distinct records built by the real code")
    parser.add_argument("--only", default="flush,leaderboard,cadence")
    parser.add_argument("--quick", action="store_true", help="100 and 10,000 members, 3 s windows")
    args = parser.parse_args()
    if args.quick:
        args.members, args.seconds = "100,10000", 3.0
    sizes = sorted({int(m) for m in args.members.split(",")})
    parts = set(args.only.split(","))
    if "cadence" in parts and args.flush_members not in sizes:
        sizes = sorted({*sizes, args.flush_members})
    print(f"bench/listening.py: {' '.join(sys.argv[1:]) or '(defaults)'}")
    print(
        f"reproduce: .venv/bin/python bench/listening.py --members {','.join(map(str, sizes))} "
        f"--runs {args.runs} --seconds {args.seconds:g} --flush-every {args.flush_every:g} "
        f"--flush-members {args.flush_members} --templates {args.templates} --only {args.only}"
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load average at start {load}")

    started = time.perf_counter()
    rng = random.Random(7)
    last_day = today()
    templates = [template(rng, FIRST_USER + n, last_day).to_document() for n in range(args.templates)]
    one = len(json.dumps(templates[0], separators=(",", ":")))
    note(f"{args.templates} template records in {time.perf_counter() - started:.1f} s")
    print(
        f"records: {args.templates} built by open_session/accrue/close_session/credit_surah/earn, the rest "
        f"copies (see the docstring); one is ~{one / 1024:.1f} KiB of JSON: "
        f"{len(templates[0]['daily'])} days, {len(templates[0]['hours'])} hours, "
        f"{len(templates[0]['recent_sessions'])} sessions, {len(templates[0]['heard'])} heard, "
        f"{len(templates[0]['surahs'])} surahs, {len(templates[0]['reciters'])} reciter(s), "
        f"achievements {templates[0]['achievements']}"
    )

    flush_figures: list[FlushFigures] = []
    board_figures: dict[int, dict[Period, tuple[list[float], list[float]]]] = {}
    kept: dict[int, Population] = {}
    with tempfile.TemporaryDirectory(prefix="quranbot-bench-listening-") as tmp:
        for members in sizes:
            note(f"{members:,} members: populating")
            root = Path(tmp) / str(members)
            population = populate(root, templates, members)
            if "flush" in parts:
                note(f"{members:,} members: flush")
                flush_figures.append(bench_flush(population, args.runs))
            if "leaderboard" in parts:
                note(f"{members:,} members: leaderboard")
                board_figures[members] = bench_leaderboard(population, args.runs)
            if "cadence" in parts and members in (args.flush_members, sizes[-1]):
                kept[members] = population
            else:
                population.store.close()
        cadences: list[Cadence] = []
        if "cadence" in parts:
            audio_dir = Path(tmp) / "audio"
            write_sample_reciter(audio_dir, seconds=60.0, surahs=[1])
            player = Player(Library(audio_dir), PlayerSettings(reciter=SAMPLE_SLUG, loop=True))
            largest = kept[sizes[-1]] if sizes[-1] != args.flush_members else None
            cadences = asyncio.run(bench_cadence(player, args, kept[args.flush_members], largest))
        for population in kept.values():
            population.store.close()

    if flush_figures:
        report_flush(flush_figures)
    if board_figures:
        report_leaderboard(board_figures, args.runs)
    if cadences:
        report_cadence(cadences, args)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
