"""`quranbot shards migrate`: move every guild's records to the shard that owns it under a new count.

A guild's records live in its shard's state directory, so changing `shard_count` changes where each
guild belongs. Nothing moves by itself (a bot refuses to start over state laid out for another count,
`layout.check_layout`); this moves them, with every bot on the machine stopped:

1. open each source store under its lock (a running shard holds it: refused), through the store's
   record API, repairing a damaged file from its backups as a start would;
2. build the new directories beside the old ones (`.migrate-<time>/`), every guild's records written
   into the store of its new shard, and check that every kind of record of every guild arrived;
3. only then set the old state aside (`before-migration-<time>/`, kept for the admin to delete: its
   backups and audit trail stay there) and rename the new directories into place.

Count 1 is the unsharded layout (the state files at the state root, as without shard keys).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from quranbot.audit.files import audit_files
from quranbot.backup.archive import newest_good_copy
from quranbot.paths import shard_dir_name
from quranbot.shards.layout import ShardDir, holds_state, shard_dirs, write_marker
from quranbot.shards.ownership import Shard, shard_of
from quranbot.store.layout import STATE_FILES
from quranbot.store.lock import StateLocked, lock_holder
from quranbot.store.schema import SchemaTooNew
from quranbot.store.state import StateStore, StoreUnavailable

STAGING_PREFIX = ".migrate-"
SET_ASIDE_PREFIX = "before-migration-"
UNSHARDED = "unsharded"


class MigrationError(RuntimeError):
    """The migration cannot go on (a bot runs, the state is not laid out for --from-count, ...); nothing
    was changed. The message says why."""


@dataclass
class MigrationReport:
    from_count: int
    to_count: int
    #: Each guild and the shard that owns it now (None: unsharded).
    guilds: dict[int, int | None] = field(default_factory=dict)
    #: Guilds whose directory changed.
    moved: int = 0
    #: Per kind of record (`StateStore.stored_guilds`), how many guilds had one.
    kinds: dict[str, int] = field(default_factory=dict)
    #: Where the old state went (None when there was none).
    set_aside: Path | None = None
    #: The directories written, by shard (None: unsharded).
    written: dict[int | None, Path] = field(default_factory=dict)


def _owner(guild_id: int, count: int) -> int | None:
    return None if count == 1 else shard_of(guild_id, count)


def _sources(state_root: Path, from_count: int) -> dict[int | None, Path]:
    """The directories holding state laid out for `from_count`; anything else there is refused."""
    dirs = [d for d in shard_dirs(state_root) if holds_state(d.path)]
    if from_count == 1:
        if dirs:
            raise MigrationError(
                f"{state_root} holds shard directories ({', '.join(d.path.name for d in dirs)}), so its "
                f"state is not unsharded: give --from-count the count they were made for ({_counts(dirs)})"
            )
        return {None: state_root} if holds_state(state_root) else {}
    if holds_state(state_root):
        raise MigrationError(
            f"The state in {state_root} is unsharded: use --from-count 1 to move it into {from_count} shards"
        )
    for directory in dirs:
        if directory.shard >= from_count or (directory.count is not None and directory.count != from_count):
            raise MigrationError(
                f"{directory.path} is shard {directory.shard} of {directory.count or 'an unknown count'}, "
                f"not of --from-count {from_count}: give --from-count the count the state was made for "
                f"({_counts(dirs)})"
            )
    return {d.shard: d.path for d in dirs}


def _counts(dirs: list[ShardDir]) -> str:
    counts = sorted({d.count for d in dirs if d.count is not None})
    return ", ".join(map(str, counts)) if counts else "their shard.json files say none"


def refuse_if_running(state_root: Path) -> None:
    """Every bot of the machine must be stopped: one running would keep writing the old layout."""
    places = [state_root, *(d.path for d in shard_dirs(state_root))]
    for place in places:
        pid = lock_holder(place)
        if pid is not None:
            who = f"process {pid}" if pid > 0 else "another process"
            raise MigrationError(
                f"QuranBot is running ({who} holds {place}): stop every shard first "
                f"(`systemctl stop 'quranbot@*' quranbot`, or Ctrl+C each `quranbot run`)"
            )


@contextlib.contextmanager
def _opened(directory: Path, *, repair: bool) -> Iterator[StateStore]:
    store = StateStore(directory, directory / "backups", find_backup=newest_good_copy if repair else None)
    try:
        store.open()
    except StateLocked as exc:
        raise MigrationError(f"{exc} (a bot started meanwhile?)") from None
    except (StoreUnavailable, SchemaTooNew) as exc:
        raise MigrationError(str(exc)) from None
    try:
        yield store
    finally:
        store.close()


def copy_guild(source: StateStore, target: StateStore, guild_id: int, kinds: dict[str, set[int]]) -> None:
    """Every record `source` holds about `guild_id`, through the store's getters and setters."""
    has = {kind for kind, guilds in kinds.items() if guild_id in guilds}
    if "playback" in has:
        target.set_playback(source.playback(guild_id))
    if "audience" in has:
        target.set_surah_audience(source.surah_audience(guild_id))
    if "settings" in has:
        target.save_settings(source.saved_settings(guild_id))
    if "daily_verse" in has:
        target.save_daily_verse(source.daily_verse(guild_id))
    if "listening_opt_out" in has:
        for user in sorted(source.listening_opt_outs(guild_id)):
            target.set_listening_opt_out(guild_id, user, True)
    if "listener_role" in has:
        target.save_listener_role_holders(guild_id, *source.listener_role_holders(guild_id))
    if "quiz_scores" in has:
        target.save_quiz_scores(guild_id, source.quiz_scores(guild_id))
    if "listening" in has:
        for stats in source.all_listening(guild_id):
            target.put_listening(stats)
    if "quiz_guild" in has:
        target.save_quiz_guild(source.quiz_guild(guild_id))
    if "open_quizzes" in has:
        for quiz in source.open_quizzes():
            if quiz.guild_id == guild_id:
                target.save_open_quiz(quiz)


def migrate(
    state_root: Path, from_count: int, to_count: int, now: datetime.datetime | None = None
) -> MigrationReport:
    """Move every guild's records from the layout of `from_count` shards to that of `to_count`."""
    if from_count < 1 or to_count < 1:
        raise MigrationError("shard counts are whole numbers from 1 (1: unsharded)")
    if from_count == to_count:
        raise MigrationError(f"--from-count and --to-count are both {from_count}: nothing to move")
    refuse_if_running(state_root)
    sources = _sources(state_root, from_count)
    report = MigrationReport(from_count, to_count)
    if not sources:
        return report
    stamp = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")
    suffix = 1
    while (state_root / f"{SET_ASIDE_PREFIX}{stamp}{_numbered(suffix)}").exists():
        suffix += 1  # a second migration within the same second
    staging = state_root / f"{STAGING_PREFIX}{stamp}{_numbered(suffix)}"
    set_aside = state_root / f"{SET_ASIDE_PREFIX}{stamp}{_numbered(suffix)}"
    shutil.rmtree(staging, ignore_errors=True)  # left by a migration killed halfway: never used
    staging.mkdir(mode=0o700)
    try:
        written = _build(sources, staging, from_count, to_count, report)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap(state_root, sources, written, staging, set_aside, to_count, report)
    _hand_back(state_root, report.written.values())
    return report


def _numbered(suffix: int) -> str:
    return "" if suffix == 1 else f"-{suffix}"


def _build(
    sources: dict[int | None, Path], staging: Path, from_count: int, to_count: int, report: MigrationReport
) -> dict[int | None, Path]:
    """The new directories, complete and checked, under `staging`."""
    targets: dict[int | None, StateStore] = {}
    expected: dict[str, set[int]] = {}
    with contextlib.ExitStack() as stack:
        for old_shard, directory in sorted(
            sources.items(), key=lambda item: -1 if item[0] is None else item[0]
        ):
            source = stack.enter_context(_opened(directory, repair=True))
            kinds = source.stored_guilds()
            for kind, guilds in kinds.items():
                expected.setdefault(kind, set()).update(guilds)
            for guild_id in sorted(set().union(*kinds.values())):
                new_shard = _owner(guild_id, to_count)
                if new_shard not in targets:
                    name = UNSHARDED if new_shard is None else shard_dir_name(new_shard)
                    targets[new_shard] = stack.enter_context(_opened(staging / name, repair=False))
                copy_guild(source, targets[new_shard], guild_id, kinds)
                report.guilds[guild_id] = new_shard
                report.moved += old_shard != new_shard
        for target in targets.values():
            target.flush()
        arrived: dict[str, set[int]] = {}
        for new_shard, target in targets.items():
            for kind, guilds in target.stored_guilds().items():
                strays = {g for g in guilds if _owner(g, to_count) != new_shard}
                if strays:
                    raise MigrationError(
                        f"guild {min(strays)} was written to the wrong shard (a bug): nothing changed"
                    )
                arrived.setdefault(kind, set()).update(guilds)
        for kind, guilds in expected.items():
            if arrived.get(kind, set()) != guilds:
                missing = sorted(guilds - arrived.get(kind, set()))
                raise MigrationError(
                    f"the {kind} records of guild {missing[0]} did not arrive (a bug): nothing changed"
                )
        report.kinds = {kind: len(guilds) for kind, guilds in expected.items() if guilds}
    return {shard: store.state_dir for shard, store in targets.items()}


def _swap(
    state_root: Path,
    sources: dict[int | None, Path],
    written: dict[int | None, Path],
    staging: Path,
    set_aside: Path,
    to_count: int,
    report: MigrationReport,
) -> None:
    """Old state aside, new state in place: renames within one file system, nothing rewritten."""
    set_aside.mkdir(mode=0o700)
    report.set_aside = set_aside
    for old_shard, directory in sources.items():
        if old_shard is None:  # the unsharded files, their audit trail and backups
            aside = set_aside / UNSHARDED
            aside.mkdir(mode=0o700)
            names = [*STATE_FILES, "backups"] + [p.name for p in audit_files(directory)]
            for name in names:
                if (directory / name).exists():
                    os.replace(directory / name, aside / name)
        else:
            os.replace(directory, set_aside / directory.name)
    for new_shard, directory in written.items():
        if new_shard is None:
            for name in STATE_FILES:
                if (directory / name).exists():
                    os.replace(directory / name, state_root / name)
            report.written[None] = state_root
        else:
            place = state_root / shard_dir_name(new_shard)
            if place.exists():  # an empty leftover (no state files): nothing of value in it
                shutil.rmtree(place)
            (directory / "state.lock").unlink(missing_ok=True)
            os.replace(directory, place)
            write_marker(place, Shard(new_shard, to_count))
            report.written[new_shard] = place
    shutil.rmtree(staging, ignore_errors=True)


def _hand_back(state_root: Path, directories: Iterable[Path]) -> None:
    """Run as root (`sudo quranbot shards migrate`), what was written belongs to root: give it to the
    bot's user, who owns the state root, so the shards can write it."""
    if os.geteuid() != 0:
        return
    owner = state_root.stat()
    if owner.st_uid == 0:
        return
    for directory in directories:
        if directory == state_root:  # unsharded: only the state files are new
            paths = [state_root / name for name in STATE_FILES]
        else:
            paths = [directory, *directory.rglob("*")]
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.chown(path, owner.st_uid, owner.st_gid)
