"""Which backups to keep: grandfather-father-son, so recent history is fine-grained and old history sparse.

With the default policy an hourly backup job keeps about 24 + 7 + 4 archives forever, not 24 a day.

Buckets are counted the way borg and restic count them: "the last N daily buckets" means the N most
recent days that HAVE a backup, not the N calendar days before now. The difference matters after
downtime: a bot that was stopped for five weeks must not, on its first prune, delete every backup
older than four weeks and keep only the one it just made. Buckets are UTC hours, UTC days and ISO
weeks (of UTC dates).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from quranbot.atomic_file import fsync_directory
from quranbot.backup.archive import BACKUP_NAME, list_backups

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    """How many hour, day and ISO-week buckets keep their newest backup."""

    hourly: int = 24
    daily: int = 7
    weekly: int = 4

    def __post_init__(self) -> None:
        for field, value in (("hourly", self.hourly), ("daily", self.daily), ("weekly", self.weekly)):
            if value < 0:
                raise ValueError(f"RetentionPolicy.{field} must be 0 or more, not {value}")


DEFAULT_POLICY = RetentionPolicy()


def _hour(moment: datetime) -> Hashable:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _day(moment: datetime) -> Hashable:
    return moment.astimezone(UTC).date()


def _iso_week(moment: datetime) -> Hashable:
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return (year, week)


def select_to_keep(created: Iterable[datetime], now: datetime, policy: RetentionPolicy) -> set[datetime]:
    """The creation times to keep: the newest in each of the `policy` most recent hour, day and week
    buckets, and always the newest overall.

    Times after `now` (a clock that was wrong, or moved back) are kept and fill no bucket: deleting
    on the word of a suspect clock is the one mistake a backup system cannot undo. Times must carry a
    time zone.
    """
    moments = list(created)
    for moment in [*moments, now]:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{moment!r} has no time zone")
    keep = {moment for moment in moments if moment > now}
    past = sorted((moment for moment in moments if moment <= now), reverse=True)
    if past:
        keep.add(past[0])
    buckets: list[tuple[int, Callable[[datetime], Hashable]]] = [
        (policy.hourly, _hour),
        (policy.daily, _day),
        (policy.weekly, _iso_week),
    ]
    for count, bucket_of in buckets:
        seen: set[Hashable] = set()
        for moment in past:  # newest first, so the first seen in a bucket is its newest
            bucket = bucket_of(moment)
            if bucket in seen:
                continue
            if len(seen) == count:
                break
            seen.add(bucket)
            keep.add(moment)
    return keep


def prune_backups(backups_dir: Path, policy: RetentionPolicy, now: datetime | None = None) -> list[Path]:
    """Delete the backups `policy` does not keep; returns the deleted paths.

    Only files named like backups are considered, and of those only archives whose manifest reads:
    an unreadable one is left for the admin to look at (it is listed as invalid) and does not take
    a good backup's place in a bucket.
    """
    now = now or datetime.now(UTC)
    good = []
    for info in list_backups(backups_dir):
        if info.error is None:
            good.append(info)
        else:
            log.warning("Backup %s is unreadable (%s); retention leaves it alone", info.name, info.error)
    keep = select_to_keep([info.created for info in good], now, policy)
    deleted: list[Path] = []
    for info in good:
        if info.created in keep or not BACKUP_NAME.fullmatch(info.path.name):
            continue
        with contextlib.suppress(FileNotFoundError):
            info.path.unlink()
            deleted.append(info.path)
    if deleted:
        fsync_directory(backups_dir)
        log.info("Pruned %d old backups", len(deleted))
    return deleted
