"""Backups against real files: real zip archives, a real lock held by another process, real APScheduler."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import stat
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from processes import lock_held_by_child

import quranbot.backup.archive as archive_module
from quranbot import __version__
from quranbot.backup.archive import (
    MANIFEST,
    BackupInvalid,
    create_backup,
    list_backups,
    newest_good_copy,
    read_member,
    restore_backup,
    verify_backup,
)
from quranbot.backup.retention import RetentionPolicy, prune_backups, select_to_keep
from quranbot.backup.scheduler import BackupScheduler
from quranbot.store.layout import PLAYBACK, QUIZ, SETTINGS, STATE_FILES, STATS
from quranbot.store.lock import StateLocked, lock_holder

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def state_bytes(tables: Mapping[str, object]) -> bytes:
    return json.dumps(tables, separators=(",", ":")).encode()


def write_state(state_dir: Path, files: dict[str, bytes]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    for name, raw in files.items():
        (state_dir / name).write_bytes(raw)


def read_state(state_dir: Path) -> dict[str, bytes]:
    return {name: (state_dir / name).read_bytes() for name in STATE_FILES if (state_dir / name).exists()}


STATE_A = {
    PLAYBACK: state_bytes({"guild:1": {"1": {"surah": 2, "position": 41.5}}}),
    SETTINGS: state_bytes({"guild:1": {"1": {"voice_channel": 42}}}),
    QUIZ: state_bytes({"guild:1": {"7": {"points": 3}}}),
}
STATE_B = {
    PLAYBACK: state_bytes({"guild:1": {"1": {"surah": 18, "position": 3.0}}}),
    SETTINGS: state_bytes({"guild:1": {"1": {"voice_channel": 99}}}),
    STATS: state_bytes({"guild:1": {"7": {"seconds": 3600}}}),
}


def craft(
    path: Path, members: dict[str, bytes], manifest: object | None = None, created: datetime = T0
) -> Path:
    """A zip written by hand; `manifest` defaults to a correct one for `members` (False: none at all)."""
    if manifest is None:
        manifest = {
            "format": 1,
            "quranbot_version": "0.0.0",
            "created": created.isoformat(),
            "files": [
                {"name": name, "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
                for name, raw in members.items()
            ],
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        if manifest is not False:
            raw_manifest = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
            archive.writestr(MANIFEST, raw_manifest)
        for name, raw in members.items():
            archive.writestr(name, raw)
    return path


# -- create, list, verify ---------------------------------------------------------------------------


def test_create_list_verify_round_trip(tmp_path: Path) -> None:
    state, backups = tmp_path / "state", tmp_path / "state" / "backups"
    write_state(state, STATE_A)
    info = create_backup(state, backups, now=T0)

    assert info.path == backups / "quranbot-backup-20260102T030405Z.zip"
    assert info.created == T0 and info.size == info.path.stat().st_size
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    assert sorted(backups.iterdir()) == [info.path]  # no temporary left behind
    with zipfile.ZipFile(info.path) as archive:
        assert sorted(archive.namelist()) == sorted([MANIFEST, *STATE_A])
        manifest = json.loads(archive.read(MANIFEST))
    assert manifest["format"] == 1 and manifest["quranbot_version"] == __version__
    assert datetime.fromisoformat(manifest["created"]) == T0
    for entry in manifest["files"]:  # the checksums are those of the files on disk
        raw = (state / entry["name"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(raw).hexdigest() and entry["size"] == len(raw)
    assert {f.name for f in info.files} == set(STATE_A)  # stats.json did not exist: not included

    assert verify_backup(info.path) == info
    assert read_member(info.path, SETTINGS) == STATE_A[SETTINGS]
    with pytest.raises(KeyError):
        read_member(info.path, STATS)

    # Same second again: a suffix, never an overwrite; the list is newest first.
    again = create_backup(state, backups, now=T0)
    later = create_backup(state, backups, now=T0 + timedelta(hours=1))
    assert again.path.name == "quranbot-backup-20260102T030405Z-1.zip"
    assert [b.path for b in list_backups(backups)] == [later.path, again.path, info.path]
    assert all(b.ok for b in list_backups(backups, verify=True))


def test_a_state_file_that_does_not_parse_is_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_state(tmp_path / "state", {**STATE_A, STATS: b'{"half": '})
    with caplog.at_level(logging.WARNING):
        info = create_backup(tmp_path / "state", tmp_path / "backups")
    assert {f.name for f in info.files} == set(STATE_A)
    assert "Left stats.json out of the backup" in caplog.text


def test_unreadable_archive_is_listed_with_its_error(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    good = create_backup(tmp_path / "state", backups, now=T0)  # no state yet: an empty, valid backup
    assert good.files == []
    broken = backups / "quranbot-backup-20260103T000000Z.zip"
    broken.write_bytes(b"not a zip at all")
    (backups / "notes.txt").write_text("not a backup")
    listed = list_backups(backups)
    assert [b.path for b in listed] == [broken, good.path]
    assert listed[0].error is not None and "not a zip" in listed[0].error
    assert listed[0].created == datetime(2026, 1, 3, tzinfo=UTC)  # from the name
    assert listed[1].ok


# -- restore ----------------------------------------------------------------------------------------


def test_restore_brings_back_exact_bytes_after_a_safety_backup(tmp_path: Path) -> None:
    state, backups = tmp_path / "state", tmp_path / "backups"
    write_state(state, STATE_A)
    old = create_backup(state, backups, now=T0)
    (state / QUIZ).unlink()
    write_state(state, STATE_B)  # now: playback, settings, stats (B); no quiz

    result = restore_backup(old.path, state, backups)

    assert read_state(state) == STATE_A  # exactly the archive: stats.json is not part of it
    assert result.restored == list(STATE_A) and result.source.path == old.path
    assert [p.name.partition(".pre-restore-")[0] for p in result.moved_aside] == [STATS]
    assert result.moved_aside[0].read_bytes() == STATE_B[STATS]
    assert result.safety_backup is not None and result.safety_backup != old.path
    safety = verify_backup(result.safety_backup)
    assert {f.name: read_member(safety.path, f.name) for f in safety.files} == STATE_B
    assert lock_holder(state) is None  # the restore's own lock is released


def test_restore_into_an_empty_state_dir_makes_no_safety_backup(tmp_path: Path) -> None:
    write_state(tmp_path / "old", STATE_A)
    archive = create_backup(tmp_path / "old", tmp_path / "backups", now=T0)
    result = restore_backup(archive.path, tmp_path / "new", tmp_path / "backups")
    assert result.safety_backup is None and result.moved_aside == []
    assert read_state(tmp_path / "new") == STATE_A


def test_restore_refuses_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    state, backups = tmp_path / "state", tmp_path / "backups"
    write_state(state, STATE_A)
    archive = create_backup(state, backups, now=T0)
    write_state(state, STATE_B)
    before = read_state(state)
    with lock_held_by_child(state) as child, pytest.raises(StateLocked, match=f"process {child.pid}"):
        restore_backup(archive.path, state, backups)
    assert read_state(state) == before
    assert [b.path for b in list_backups(backups)] == [archive.path]  # not even a safety backup
    assert sorted(p.name for p in state.iterdir()) == sorted([*STATE_A, STATS, "state.lock"])


# -- hostile and damaged archives -------------------------------------------------------------------

GOOD = STATE_A[SETTINGS]


def _mismatch_manifest() -> dict[str, object]:
    return {
        "format": 1,
        "created": T0.isoformat(),
        "files": [{"name": SETTINGS, "size": len(GOOD), "sha256": "0" * 64}],
    }


def _truncated(path: Path) -> Path:
    craft(path, {SETTINGS: GOOD, PLAYBACK: STATE_A[PLAYBACK]})
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) * 2 // 3])
    return path


CASES: dict[str, tuple[Callable[[Path], object], str]] = {
    "traversal": (lambda p: craft(p, {"../x": GOOD}), r"'\.\./x' contains '\.\.'"),
    "traversal-deep": (lambda p: craft(p, {"a/../../x": GOOD}), r"contains '\.\.'"),
    "absolute": (lambda p: craft(p, {"/tmp/evil": GOOD}), "has an absolute path"),
    "backslash": (lambda p: craft(p, {"sub\\settings.json": GOOD}), "contains a backslash"),
    "not-a-state-file": (lambda p: craft(p, {"notes.txt": GOOD}), "'notes.txt' is not a state file"),
    "checksum": (lambda p: craft(p, {SETTINGS: GOOD}, _mismatch_manifest()), "checksum mismatch"),
    "size": (
        lambda p: craft(
            p,
            {SETTINGS: GOOD},
            {
                "format": 1,
                "created": T0.isoformat(),
                "files": [
                    {"name": SETTINGS, "size": 3, "sha256": hashlib.sha256(GOOD).hexdigest()},
                ],
            },
        ),
        f"{len(GOOD)} bytes but manifest.json says 3",
    ),
    "truncated": (_truncated, "not a zip archive, or truncated"),
    "not-a-zip": (lambda p: p.write_bytes(b"PK\x03\x04 but nothing more"), "not a zip archive"),
    "no-manifest": (lambda p: craft(p, {SETTINGS: GOOD}, False), "manifest.json is missing"),
    "manifest-not-json": (
        lambda p: craft(p, {SETTINGS: GOOD}, b"{oops"),
        "manifest.json is malformed: not JSON",
    ),
    "manifest-format": (
        lambda p: craft(p, {}, {"format": 2, "created": T0.isoformat(), "files": []}),
        "format is 2",
    ),
    "manifest-lists-missing-file": (
        lambda p: craft(
            p,
            {},
            {
                "format": 1,
                "created": T0.isoformat(),
                "files": [{"name": QUIZ, "size": 1, "sha256": "a" * 64}],
            },
        ),
        "quiz.json is listed in manifest.json but missing",
    ),
    "extra-member": (
        lambda p: craft(
            p,
            {SETTINGS: GOOD, QUIZ: STATE_A[QUIZ]},
            {
                "format": 1,
                "created": T0.isoformat(),
                "files": [{"name": SETTINGS, "size": len(GOOD), "sha256": hashlib.sha256(GOOD).hexdigest()}],
            },
        ),
        "'quiz.json' is not listed in manifest.json",
    ),
    "member-not-json": (
        lambda p: craft(p, {SETTINGS: b"{not json"}),
        "settings.json is not a valid state file: not JSON",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_archive_is_refused_and_nothing_is_touched(tmp_path: Path, case: str) -> None:
    make, reason = CASES[case]
    home = tmp_path / "home"
    state, backups = home / "state", home / "state" / "backups"
    write_state(state, STATE_B)
    archive = backups / "quranbot-backup-20260102T030405Z.zip"
    backups.mkdir(parents=True)
    make(archive)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    with pytest.raises(BackupInvalid, match=reason) as refused:
        verify_backup(archive)
    assert refused.value.path == archive
    with pytest.raises(BackupInvalid, match=reason):
        restore_backup(archive, state, backups)
    with pytest.raises(BackupInvalid, match=reason):
        read_member(archive, SETTINGS)

    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # no state written, no safety backup, no `x` outside the state dir
    assert not (home / "x").exists() and not (tmp_path / "x").exists() and not (state / "x").exists()
    assert [b.error is not None for b in list_backups(backups, verify=True)] == [True]


def test_an_absolute_member_is_never_written_anywhere(tmp_path: Path) -> None:
    target = tmp_path / "evil"  # an absolute name that, if ever followed, would land here
    archive = craft(tmp_path / "backups" / "quranbot-backup-20260102T030405Z.zip", {str(target): GOOD})
    with pytest.raises(BackupInvalid, match="has an absolute path"):
        restore_backup(archive, tmp_path / "state", tmp_path / "backups")
    assert not target.exists() and not (tmp_path / "state").exists()


def test_a_failed_verify_after_writing_deletes_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If what was written does not read back, no file stays. (Real disks rarely oblige on cue, so
    the read-back is the one thing made to fail here.)"""
    write_state(tmp_path / "state", {SETTINGS: b'{"_default": {}}'})

    def rejecting(path: Path, *_: object) -> bytes:
        raise BackupInvalid(path, "simulated bad read-back")

    monkeypatch.setattr(archive_module, "_read_checked", rejecting)
    with pytest.raises(BackupInvalid, match="simulated"):
        create_backup(tmp_path / "state", tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == []


# -- self-repair at start ---------------------------------------------------------------------------


def test_newest_good_copy_skips_a_newer_corrupt_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state, backups = tmp_path / "state", tmp_path / "backups"
    write_state(state, STATE_A)
    good = create_backup(state, backups, now=T0)
    # Newer: one whose settings.json does not parse, one whose checksum is wrong, one without it.
    craft(
        backups / "quranbot-backup-20260102T040000Z.zip",
        {SETTINGS: b"\x00\x00\x00"},
        created=T0 + timedelta(hours=1),
    )
    craft(
        backups / "quranbot-backup-20260102T050000Z.zip",
        {SETTINGS: GOOD},
        {**_mismatch_manifest(), "created": (T0 + timedelta(hours=2)).isoformat()},
    )
    write_state(tmp_path / "other", {PLAYBACK: STATE_B[PLAYBACK]})
    create_backup(tmp_path / "other", backups, now=T0 + timedelta(hours=3))

    with caplog.at_level(logging.WARNING):
        found = newest_good_copy(backups, SETTINGS)
    assert found == (good.path, STATE_A[SETTINGS])
    assert "checksum mismatch" in caplog.text and "not a valid state file" in caplog.text
    assert newest_good_copy(backups, PLAYBACK) == (
        backups / "quranbot-backup-20260102T060405Z.zip",
        STATE_B[PLAYBACK],
    )
    assert newest_good_copy(backups, STATS) is None
    assert newest_good_copy(tmp_path / "nowhere", SETTINGS) is None


# -- retention --------------------------------------------------------------------------------------


def hourly(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(hours=i) for i in range(count)]


def test_thirty_days_of_hourly_backups() -> None:
    # 2026-03-01 is a Sunday. 720 hourly backups: 2026-03-01 00:00 .. 2026-03-30 23:00 (a Monday).
    times = hourly(datetime(2026, 3, 1, tzinfo=UTC), 30 * 24)
    now = times[-1] + timedelta(minutes=10)
    keep = select_to_keep(times, now, RetentionPolicy(hourly=24, daily=7, weekly=4))
    newest = times[-1]
    hours = set(times[-24:])  # all of 2026-03-30
    days = {datetime(2026, 3, d, 23, tzinfo=UTC) for d in range(24, 31)}  # 24th .. 30th, 23:00
    weeks = {datetime(2026, 3, d, 23, tzinfo=UTC) for d in (30, 29, 22, 15)}  # the last 4 ISO weeks
    assert keep == hours | days | weeks
    assert len(keep) == 24 + 6 + 2  # the 30th's 23:00 and the 29th's 23:00 count in two buckets
    assert newest in keep


def test_retention_keeps_the_newest_and_survives_downtime() -> None:
    policy = RetentionPolicy(hourly=3, daily=2, weekly=3)
    old = hourly(datetime(2026, 1, 5, tzinfo=UTC), 24 * 21)  # three weeks, then five weeks off
    restarted = datetime(2026, 3, 10, 12, tzinfo=UTC)
    keep = select_to_keep([*old, restarted], restarted, policy)
    # Not just the new backup: the last weeks before the downtime are still there.
    assert restarted in keep
    assert datetime(2026, 1, 25, 23, tzinfo=UTC) in keep  # newest of the last old week
    assert datetime(2026, 1, 18, 23, tzinfo=UTC) in keep  # and of the week before
    assert len(keep) == 4  # restarted; the 25th 23:00 and 22:00 (hourly); the 18th 23:00 (weekly)
    assert select_to_keep([], restarted, policy) == set()
    assert select_to_keep(old, restarted, RetentionPolicy(0, 0, 0)) == {old[-1]}


def test_retention_keeps_what_a_wrong_clock_says_is_in_the_future() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    future = [now + timedelta(days=365 + i) for i in range(5)]
    past = hourly(now - timedelta(hours=10), 10)
    keep = select_to_keep([*future, *past], now, RetentionPolicy(hourly=3, daily=0, weekly=0))
    assert keep == set(future) | set(past[-3:])
    with pytest.raises(ValueError, match="time zone"):
        select_to_keep([datetime(2026, 1, 1)], now, RetentionPolicy())
    with pytest.raises(ValueError, match="hourly"):
        RetentionPolicy(hourly=-1)


def test_prune_deletes_only_backup_files_the_policy_drops(tmp_path: Path) -> None:
    state, backups = tmp_path / "state", tmp_path / "backups"
    write_state(state, STATE_A)
    made = [create_backup(state, backups, now=T0 + timedelta(hours=h)).path for h in range(6)]
    bystanders = [
        backups / "notes.txt",
        backups / "quranbot-backup-latest.zip",
        backups / ".quranbot-backup-20260101T000000Z.zip.abc.tmp",
        backups / "quranbot-backup-20200101T000000Z.zip.bak",
    ]
    for path in bystanders:
        path.write_bytes(b"keep me")
    broken = backups / "quranbot-backup-20200101T000000Z.zip"
    broken.write_bytes(b"corrupt, left for the admin")

    deleted = prune_backups(
        backups, RetentionPolicy(hourly=2, daily=0, weekly=0), now=T0 + timedelta(hours=6)
    )

    assert sorted(deleted) == sorted(made[:4])
    assert sorted(backups.iterdir()) == sorted([*made[4:], *bystanders, broken])
    assert prune_backups(backups, RetentionPolicy(hourly=2, daily=0, weekly=0), T0 + timedelta(hours=6)) == []


# -- the scheduler ----------------------------------------------------------------------------------


async def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_scheduler_runs_at_once_when_the_last_backup_is_overdue(tmp_path: Path) -> None:
    state, backups = tmp_path / "state", tmp_path / "backups"
    write_state(state, STATE_A)
    old = create_backup(state, backups, now=datetime.now(UTC) - timedelta(hours=2))
    scheduler = BackupScheduler(state, backups, interval=timedelta(hours=1))
    scheduler.start()
    try:
        assert scheduler.last_backup is not None and scheduler.last_backup.path == old.path
        await wait_for(lambda: len(list(backups.glob("*.zip"))) == 2)
        await wait_for(lambda: scheduler.last_backup is not None and scheduler.last_backup.path != old.path)
        assert scheduler.last_backup is not None
        new = scheduler.last_backup
        assert verify_backup(new.path).files == new.files
        next_run = scheduler.next_run_time
        assert next_run is not None
        assert timedelta(minutes=59) < next_run - new.created < timedelta(minutes=61)
    finally:
        scheduler.shutdown()
    await asyncio.sleep(0)  # APScheduler 3 finishes shutting down on the loop's next turn
    assert not scheduler.running and scheduler.next_run_time is None


async def test_scheduler_waits_when_the_last_backup_is_fresh(tmp_path: Path) -> None:
    state, backups = tmp_path / "state", tmp_path / "backups"
    write_state(state, STATE_A)
    fresh = create_backup(state, backups, now=datetime.now(UTC) - timedelta(minutes=20))
    scheduler = BackupScheduler(state, backups, interval=timedelta(hours=1))
    scheduler.start()
    try:
        assert scheduler.next_run_time == fresh.created + timedelta(hours=1)
        await asyncio.sleep(0.3)
        assert [b.path for b in list_backups(backups)] == [fresh.path]

        made = await scheduler.run_now()  # "backup now"
        assert made.path.exists() and scheduler.last_backup == made
        assert scheduler.next_run_time == fresh.created + timedelta(hours=1)
    finally:
        scheduler.shutdown()
        await asyncio.sleep(0)


async def test_a_failing_backup_is_logged_and_the_schedule_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state, backups = tmp_path / "state", tmp_path / "backups"
    write_state(state, STATE_A)
    backups.write_text("a file where the backups directory should be")
    scheduler = BackupScheduler(state, backups, interval=timedelta(seconds=0.2))
    with caplog.at_level(logging.INFO, logger="quranbot.backup"):
        scheduler.start()
        try:

            def failures() -> list[logging.LogRecord]:
                return [
                    record
                    for record in caplog.records
                    if record.levelno == logging.ERROR and "Scheduled backup failed" in record.getMessage()
                ]

            await wait_for(lambda: len(failures()) >= 2)  # it failed, and was run again
            assert str(backups) in failures()[0].getMessage()
            assert scheduler.running and scheduler.next_run_time is not None

            backups.unlink()  # the admin fixes it: the next run succeeds
            await wait_for(lambda: backups.is_dir() and any(backups.glob("*.zip")))
            await wait_for(lambda: scheduler.last_backup is not None)
        finally:
            scheduler.shutdown()
            await asyncio.sleep(0)
