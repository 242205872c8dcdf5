"""State store speed: a flush and a full load with 10, 1,000 and 10,000 members' statistics.

Compared in the same run against plain TinyDB (its JSONStorage, one `upsert` per changed member, which
re-reads and rewrites the file in place each time), and against the same batched update on JSONStorage,
which isolates what atomic, fsynced writes cost. A flush here = 50 members' listening time + the
playback position, as the bot writes them every interval.

Reproduce: .venv/bin/python bench/store.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tinydb import TinyDB
from tinydb.storages import JSONStorage
from tinydb.table import Document

from quranbot.store.records import GuildPlayback, ListeningStats
from quranbot.store.state import StateDB, StateStore

GUILD = 1
CHANGED = 50


def median_ms(action: Callable[[], None], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def populate_ours(root: Path, users: int) -> None:
    with StateStore(root / "state", root / "backups") as store:
        for user in range(users):
            record = store.buffered_listening(GUILD, user)
            record.seconds, record.sessions, record.last_seen = 60.0, 1, 1.0


def populate_plain(path: Path, users: int) -> None:
    with TinyDB(path, storage=JSONStorage) as db:
        db.table(f"guild:{GUILD}").insert_multiple(
            Document(ListeningStats(GUILD, user, 60.0, 1, 1.0).to_document(), doc_id=user)
            for user in range(users)
        )


def bench(users: int, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        populate_ours(root, users)
        plain = root / "plain.json"
        populate_plain(plain, users)
        batched = root / "batched.json"
        populate_plain(batched, users)
        changed = range(min(users, CHANGED))
        store = StateStore(root / "state", root / "backups").open()
        tick = [0]

        def flush_ours() -> None:
            tick[0] += 1
            store.set_playback(GuildPlayback(GUILD, position_frames=tick[0]))
            for user in changed:
                store.buffered_listening(GUILD, user).seconds += 1.0
            store.flush()

        plain_db = TinyDB(plain, storage=JSONStorage)
        batched_db = StateDB(batched, storage=JSONStorage)

        def flush_plain() -> None:
            table = plain_db.table(f"guild:{GUILD}")
            for user in changed:
                table.upsert(Document(ListeningStats(GUILD, user, 61.0, 1, 2.0).to_document(), doc_id=user))
            plain_db.table("playback").upsert(Document(GuildPlayback(GUILD).to_document(), doc_id=GUILD))

        def flush_batched() -> None:
            table = batched_db.table(f"guild:{GUILD}")
            table.upsert_many({u: ListeningStats(GUILD, u, 61.0, 1, 2.0).to_document() for u in changed})  # type: ignore[attr-defined]
            batched_db.table("playback").upsert(Document(GuildPlayback(GUILD).to_document(), doc_id=GUILD))

        results = {
            "flush: QuranBot store": median_ms(flush_ours, runs),
            "flush: TinyDB JSONStorage, upsert each": median_ms(flush_plain, runs),
            "flush: TinyDB JSONStorage, batched": median_ms(flush_batched, runs),
        }
        store.close()
        plain_db.close()
        batched_db.close()

        def load_ours() -> None:
            with StateStore(root / "state", root / "backups") as opened:
                opened._table("stats.json", f"guild:{GUILD}").all()

        def load_plain() -> None:
            with TinyDB(plain, storage=JSONStorage) as db:
                db.table(f"guild:{GUILD}").all()

        results["load: QuranBot store (all files)"] = median_ms(load_ours, runs)
        results["load: TinyDB JSONStorage (one file)"] = median_ms(load_plain, runs)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = (10, 1_000, 10_000)
    table = {size: bench(size, args.runs) for size in sizes}
    rows = list(table[sizes[0]])
    print(f"median of {args.runs} runs, milliseconds; a flush = {CHANGED} members + the position")
    print(f"{'':42}" + "".join(f"{size:>12,} users" for size in sizes))
    for row in rows:
        print(f"{row:42}" + "".join(f"{table[size][row]:>18.2f}" for size in sizes))
    for size in sizes:
        ours, plain = (
            table[size]["flush: QuranBot store"],
            table[size]["flush: TinyDB JSONStorage, upsert each"],
        )
        print(f"{size:>6,} users: plain TinyDB flush / QuranBot flush = {plain / ours:.1f}x")
    print(f"reproduce: .venv/bin/python bench/store.py --runs {args.runs}")


if __name__ == "__main__":
    main()
