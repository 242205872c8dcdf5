"""The state store against real files: atomic writes, a real SIGKILL, corrupt files, locks, migrations."""

from __future__ import annotations

import errno
import json
import logging
import multiprocessing
import os
import random
import shutil
import signal
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from processes import lock_held_by_child

from quranbot.store.layout import PLAYBACK, STATE_FILES, STATS
from quranbot.store.lock import StateLocked, lock_holder
from quranbot.store.records import GuildPlayback, GuildSettings, QuizScore
from quranbot.store.schema import SCHEMAS, Migration, Schema, SchemaTooNew
from quranbot.store.state import StateStore, StoreUnavailable
from quranbot.store.storage import AtomicJSONStorage, CorruptStateFile, ReusingJSONStorage, parse_state_bytes


def store(tmp_path: Path, **kwargs: object) -> StateStore:
    return StateStore(tmp_path / "state", tmp_path / "backups", **kwargs)  # type: ignore[arg-type]


def test_values_survive_a_restart_and_files_are_private(tmp_path: Path) -> None:
    with store(tmp_path) as state:
        state.set_playback(
            GuildPlayback(1, reciter="sample", surah=18, position_frames=4321, shuffle_order=[3, 1])
        )
        state.save_settings(GuildSettings(1, voice_channel_id=99))
        state.save_quiz_score(QuizScore(1, 7, points=30, streak=3))
        record = state.buffered_listening(1, 7)
        record.seconds, record.sessions = 12.5, 1
    with store(tmp_path) as state:
        assert state.playback(1) == GuildPlayback(
            1, reciter="sample", surah=18, position_frames=4321, shuffle_order=[3, 1]
        )
        assert state.settings(1).voice_channel_id == 99
        assert state.quiz_score(1, 7).points == 30
        assert state.listening(1, 7).seconds == 12.5 and state.listening(1, 7).sessions == 1
    state_dir = tmp_path / "state"
    assert state_dir.stat().st_mode & 0o777 == 0o700
    for name in STATE_FILES:
        assert (state_dir / name).stat().st_mode & 0o777 == 0o600


def test_hot_values_are_buffered_until_flush(tmp_path: Path) -> None:
    with store(tmp_path) as state:
        playback_file = tmp_path / "state" / PLAYBACK
        before = playback_file.read_bytes()
        for frame in range(500):  # a position update every 20 ms frame writes nothing
            state.set_playback(GuildPlayback(1, position_frames=frame))
        assert playback_file.read_bytes() == before
        state.flush()
        assert json.loads(playback_file.read_bytes())["guilds"]["1"]["position_frames"] == 499


def test_a_position_update_does_not_rewrite_the_statistics(tmp_path: Path) -> None:
    with store(tmp_path) as state:
        for user in range(1000):
            state.buffered_listening(1, user).seconds += 60.0
        state.flush()
        stats_file = tmp_path / "state" / STATS
        stamp = stats_file.stat().st_mtime_ns
        state.set_playback(GuildPlayback(1, position_frames=5))
        state.flush()
        assert stats_file.stat().st_mtime_ns == stamp


# -- a real crash: SIGKILL at random points ----------------------------------------------------------------


def _writer(state_root: str, report: Connection) -> None:
    """Child process: flush an increasing position (and a sizeable statistics file) as fast as it can."""
    root = Path(state_root)
    state = StateStore(root / "state", root / "backups").open()
    value = state.playback(1).position_frames
    while True:
        value += 1
        state.set_playback(GuildPlayback(1, position_frames=value))
        for user in range(0, 3000, 7):
            state.buffered_listening(1, user).seconds += 1.0
        state.flush()
        report.send(value)  # flushed: a later load must hold at least this


def _writer_stopping_before_rename(state_root: str, report: Connection) -> None:
    """Child process: start a write, and stop just before the rename, with the new data in a temp file."""
    root = Path(state_root)
    state = StateStore(root / "state", root / "backups").open()
    real_replace = os.replace

    def replace_later(source: str, target: str) -> None:
        report.send(str(source))
        time.sleep(60)  # killed here
        real_replace(source, target)

    os.replace = replace_later  # type: ignore[assignment]
    state.set_playback(GuildPlayback(1, position_frames=999))
    state.flush()


def test_sigkill_between_temp_file_and_rename_keeps_the_old_file(tmp_path: Path) -> None:
    with store(tmp_path) as state:
        state.set_playback(GuildPlayback(1, position_frames=5))
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_writer_stopping_before_rename, args=(str(tmp_path), sender), daemon=True)
    child.start()
    temp_file = Path(receiver.recv())
    assert temp_file.exists() and b'"position_frames":999' in temp_file.read_bytes()
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    with store(tmp_path) as state:
        assert state.playback(1).position_frames == 5  # the old file, whole
    assert not temp_file.exists()  # swept by the next writer


def _drain(receiver: Connection) -> list[int]:
    """Values the killed child sent before it died (the pipe then reads as end-of-file)."""
    values = []
    try:
        while receiver.poll():
            values.append(receiver.recv())
    except EOFError:
        pass
    receiver.close()
    return values


def test_sigkill_at_random_points_never_loses_a_flushed_value(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    rng = random.Random(1234)
    state_dir = tmp_path / "state"
    last_flushed = 0
    killed_mid_write = 0
    for _ in range(200):
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_writer, args=(str(tmp_path), sender), daemon=True)
        child.start()
        sender.close()
        deadline = time.monotonic() + rng.uniform(0.005, 0.06)
        reported = False
        while time.monotonic() < deadline or not reported:  # kill at a random point after a first flush
            if receiver.poll(0.001):
                last_flushed = max(last_flushed, receiver.recv())
                reported = True
        time.sleep(rng.uniform(0, 0.015))  # a random phase of the child's ~12 ms write cycle
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        last_flushed = max([last_flushed, *_drain(receiver)])
        for name in STATE_FILES:  # every file parses, as it is on disk right after the kill
            parse_state_bytes(state_dir / name, (state_dir / name).read_bytes())
        killed_mid_write += any(p.name.endswith(".tmp") for p in state_dir.iterdir())
        with store(tmp_path) as state:
            assert state.playback(1).position_frames >= last_flushed
            assert state.recovered == []
    assert last_flushed > 200
    print(f"{killed_mid_write} of 200 kills landed inside a write; last flushed value {last_flushed}")
    assert not [p.name for p in state_dir.iterdir() if p.name.endswith(".tmp")], "temp files piled up"
    assert not list(state_dir.glob("*.corrupt-*"))


# -- bad files ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda raw: raw[: len(raw) // 2], "not JSON"),
        (lambda raw: bytes(len(raw)), "blank or zero-filled"),
        (lambda raw: raw + b"}}garbage", "not JSON"),
        (lambda raw: b"", "empty"),
        (lambda raw: b"[1, 2, 3]", "not a TinyDB document"),
    ],
    ids=["truncated", "zeros", "trailing-garbage", "empty", "wrong-shape"],
)
def test_a_corrupt_file_is_moved_aside_loudly_and_never_silently_emptied(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: object, reason: str
) -> None:
    with store(tmp_path) as state:
        state.save_settings(GuildSettings(1, voice_channel_id=42))
    settings_file = tmp_path / "state" / "settings.json"
    original = settings_file.read_bytes()
    settings_file.write_bytes(damage(original))  # type: ignore[operator]
    with caplog.at_level(logging.CRITICAL), store(tmp_path) as state:
        assert state.recovered == ["settings.json"]
    aside = list((tmp_path / "state").glob("settings.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damage(original)  # type: ignore[operator]
    message = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL)
    assert "settings.json was unreadable" in message and reason in message and aside[0].name in message
    assert "starts EMPTY" in message  # no backup exists here: said loudly


def test_a_corrupt_file_is_restored_from_the_newest_good_backup(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = json.dumps(
        {"_meta": {"1": {"schema_version": 1}}, "guilds": {"1": {"guild_id": 1, "voice_channel_id": 77}}}
    )
    archive = tmp_path / "backups" / "quranbot-backup-20260101T000000Z.zip"

    def finder(backups_dir: Path, name: str) -> tuple[Path, bytes] | None:
        assert backups_dir == tmp_path / "backups"
        return (archive, good.encode()) if name == "settings.json" else None

    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "settings.json").write_bytes(b"\x00" * 64)
    with caplog.at_level(logging.CRITICAL), store(tmp_path, find_backup=finder) as state:
        assert state.settings(1).voice_channel_id == 77
    assert "restored it from backup quranbot-backup-20260101T000000Z.zip" in caplog.text


def test_missing_files_start_fresh_without_alarm(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), store(tmp_path) as state:
        assert state.playback(3) == GuildPlayback(3)
        assert state.recovered == []
    assert not caplog.records


def test_parse_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(CorruptStateFile, match=r"x.json is not a valid state file: not JSON"):
        parse_state_bytes(tmp_path / "x.json", b"{")


def _open_as_unprivileged(state_root: str, report: Connection) -> None:
    """Forked child: drop root (which ignores directory permissions), then try to open the store."""
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    try:
        StateStore(Path(state_root) / "state", Path(state_root) / "backups").open()
        report.send("opened")
    except StoreUnavailable as exc:
        report.send(str(exc))


def test_a_read_only_state_directory_is_a_clear_error(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = Path(tempfile.mkdtemp(prefix="quranbot-ro-"))  # world-traversable, unlike pytest's tmp dirs
    try:
        root.chmod(0o755)
        (root / "state").mkdir(mode=0o555)
        (root / "state").chmod(0o555)
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_open_as_unprivileged, args=(str(root), sender))
        child.start()
        child.join(10)
        message = receiver.recv()
        assert message == f"Cannot write the state directory {root / 'state'}: Permission denied"
    finally:
        shutil.rmtree(root)


def test_a_state_path_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("not a directory")
    with pytest.raises(StoreUnavailable, match=r"Cannot write the state directory .*state: File exists"):
        store(tmp_path).open()


def test_a_full_disk_keeps_the_previous_file_and_the_buffered_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """ENOSPC is simulated at the write(2) boundary: filling a real disk is not possible in CI."""
    from quranbot.store import flusher as flusher_module

    with store(tmp_path) as state:
        state.set_playback(GuildPlayback(1, position_frames=10))
        state.flush()
        playback_file = tmp_path / "state" / PLAYBACK
        before = playback_file.read_bytes()
        state.set_playback(GuildPlayback(1, position_frames=20))
        real_fsync = os.fsync

        def no_space(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", no_space)
        flusher = flusher_module.PeriodicFlusher(state, interval=2.0)
        with caplog.at_level(logging.ERROR):
            assert flusher.flush_once() is False
        assert "No space left on device" in caplog.text and "previous files are intact" in caplog.text
        assert playback_file.read_bytes() == before
        assert not [p for p in playback_file.parent.iterdir() if p.name.endswith(".tmp")]
        assert state.playback(1).position_frames == 20  # still buffered
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert flusher.flush_once() is True
    with store(tmp_path) as state:
        assert state.playback(1).position_frames == 20


# -- one writer ---------------------------------------------------------------------------------------------


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    with lock_held_by_child(tmp_path / "state") as holder:
        assert lock_holder(tmp_path / "state") == holder.pid
        with pytest.raises(StateLocked, match=f"in use by process {holder.pid}"):
            store(tmp_path).open()
    assert lock_holder(tmp_path / "state") is None  # the kernel released it with the process
    store(tmp_path).open().close()


# -- schema versions ----------------------------------------------------------------------------------------


def test_an_older_file_is_migrated_in_order(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / PLAYBACK).write_text(json.dumps({"guilds": {"1": {"guild_id": 1, "position": 7}}}))
    steps: list[str] = []

    def rename_position(data: dict) -> dict:  # type: ignore[type-arg]
        steps.append("2")
        for doc in data["guilds"].values():
            doc["position_frames"] = doc.pop("position")
        return data

    def add_reciter(data: dict) -> dict:  # type: ignore[type-arg]
        steps.append("3")
        for doc in data["guilds"].values():
            doc.setdefault("reciter", "default")
        return data

    schemas = dict(SCHEMAS)
    schemas[PLAYBACK] = Schema(
        PLAYBACK, (Migration(2, "frames", rename_position), Migration(3, "reciter", add_reciter))
    )
    with store(tmp_path, schemas=schemas) as state:
        assert state.playback(1).position_frames == 7 and state.playback(1).reciter == "default"
    assert steps == ["2", "3"]
    assert json.loads((tmp_path / "state" / PLAYBACK).read_text())["_meta"]["1"]["schema_version"] == 3


def test_a_newer_file_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    newer = {"_meta": {"1": {"schema_version": 9}}, "guilds": {}}
    (tmp_path / "state" / PLAYBACK).write_text(json.dumps(newer))
    with pytest.raises(
        SchemaTooNew, match=r"written by a newer QuranBot \(schema 9; this version reads up to 1\)"
    ):
        store(tmp_path).open()
    assert json.loads((tmp_path / "state" / PLAYBACK).read_text()) == newer  # untouched
    assert lock_holder(tmp_path / "state") is None  # the lock was released on the way out


def test_migrations_must_be_numbered_in_order() -> None:
    with pytest.raises(ValueError, match="in order"):
        Schema("x.json", (Migration(3, "skips 2", lambda d: d),))


def test_the_flusher_writes_statistics_on_their_own_slower_interval(tmp_path: Path) -> None:
    from quranbot.store.flusher import PeriodicFlusher

    with store(tmp_path) as state:
        flusher = PeriodicFlusher(state, interval=2.0, statistics_interval=3600.0)
        state.set_playback(GuildPlayback(1, position_frames=50))
        state.buffered_listening(1, 7).seconds += 30.0
        assert flusher.flush_once()
        on_disk = json.loads((tmp_path / "state" / STATS).read_text())
        assert "guild:1" not in on_disk  # statistics wait for their interval
        assert json.loads((tmp_path / "state" / PLAYBACK).read_text())["guilds"]["1"]["position_frames"] == 50
        assert state.listening(1, 7).seconds == 30.0  # still readable from the buffer
    on_disk = json.loads((tmp_path / "state" / STATS).read_text())  # close() flushed everything
    assert on_disk["guild:1"]["7"]["seconds"] == 30.0


# -- stats.json: the encoded records reused between flushes -----------------------------------------------
MEMBERS = range(50)


def test_reused_bytes_are_exactly_what_a_full_encode_writes(tmp_path: Path) -> None:
    """ReusingJSONStorage (stats.json) writes, flush after flush, the same bytes as json.dumps of the
    whole data: records replaced, added and removed in between included."""
    storage = ReusingJSONStorage(tmp_path / "stats.json")
    data: dict[str, dict[str, Any]] = {
        "guild:1": {
            str(u): {"user_id": u, "seconds": u * 1.5, "daily": {"2026-12-04": u}} for u in range(50)
        },
        "_meta": {"1": {"version": 3}},
    }
    for round_ in range(4):
        storage.write(data)
        written = (tmp_path / "stats.json").read_bytes()
        assert written == AtomicJSONStorage.encode(data), round_
        assert json.loads(written) == data
        table = dict(data["guild:1"])
        table[str(round_)] = {"user_id": round_, "seconds": 99.0 + round_, "name": "عربي"}  # replaced
        table.pop(str(40 + round_), None)  # removed
        table[str(1000 + round_)] = {"user_id": 1000 + round_}  # added
        data = {**data, "guild:1": table}


def test_a_flush_of_the_real_store_writes_every_member_as_they_are(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state", tmp_path / "backups").open()
    try:
        for user in range(1, 201):
            store.buffered_listening(7, user).seconds = float(user)
        store.flush(statistics=True)
        for user in (3, 150):  # a few change between flushes, as listeners do
            store.buffered_listening(7, user).seconds += 15.0
        store.flush(statistics=True)
        store.forget_listening(99, 7)
    finally:
        store.close()
    with StateStore(tmp_path / "state", tmp_path / "backups") as reopened:
        seconds = {s.user_id: s.seconds for s in reopened.all_listening(7)}
    assert seconds[3] == 18.0 and seconds[150] == 165.0 and seconds[200] == 200.0
    assert 99 not in seconds and len(seconds) == 199


async def test_a_slow_flush_does_not_push_the_next_position_save_later(tmp_path: Path) -> None:
    """The position is saved every interval counted from each flush's start: a flush that takes most of
    the interval (a large statistics file) leaves the saves 0.5 s apart, not 0.5 s plus the flush."""
    import asyncio
    from itertools import pairwise

    from quranbot.store.flusher import PeriodicFlusher

    with store(tmp_path) as state:
        flusher = PeriodicFlusher(state, interval=0.5)
        starts: list[float] = []

        def slow_flush() -> None:
            starts.append(time.monotonic())
            time.sleep(0.3)  # on the event loop, as the real flush is

        flusher.before_flush = slow_flush
        running = asyncio.create_task(flusher.run())
        await asyncio.sleep(2.2)
        running.cancel()
        await asyncio.wait({running})
    gaps = [b - a for a, b in pairwise(starts)]
    assert len(starts) >= 4 and max(gaps) < 0.6, gaps


async def test_statistics_due_every_flush_are_written_every_flush(tmp_path: Path) -> None:
    """With both intervals equal, every flush writes the statistics: a flush arriving a moment before
    the statistics are due must not put them off a whole interval (a SIGKILL would lose twice as much)."""
    import asyncio

    from quranbot.store.flusher import PeriodicFlusher

    with store(tmp_path) as state:
        flusher = PeriodicFlusher(state, interval=0.2, statistics_interval=0.2)
        accrued: list[float] = []

        def accrue() -> None:  # what the bot does just before each statistics write
            accrued.append(time.monotonic())
            state.buffered_listening(1, 7).seconds += 0.2

        flusher.before_statistics = accrue
        running = asyncio.create_task(flusher.run())
        await asyncio.sleep(1.3)
        running.cancel()
        await asyncio.wait({running})
    assert len(accrued) >= 5, accrued
