"""The periodic backup: an APScheduler job on the bot's event loop that archives the state and prunes.

The work itself (reading state, zipping, hashing, fsync) runs in a thread, so the voice loop never
waits on the disk. A failed backup is logged and the schedule carries on: the next hour may well
succeed (disk freed, permissions fixed), and a backup job must never be the thing that stops the bot.

APScheduler 3 on asyncio, worth knowing:
- `AsyncIOScheduler.start()` takes the *running* loop, so `start()` must be called inside it.
- `AsyncIOScheduler.shutdown()` does not stop anything itself: it schedules the stop on the loop with
  `call_soon_threadsafe`, so `running` stays True until the loop next runs, and the stop cancels a
  job that is mid-run (APScheduler would log that cancellation as a job error; the job here treats
  it as the ordinary shutdown it is).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.jobstores.base import JobLookupError  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from quranbot.alerts.system_event import system_event
from quranbot.audit.record import BOT_ACTOR, AuditRecord, Result
from quranbot.audit.writer import AuditLog
from quranbot.backup.archive import BackupInfo, create_backup, list_backups
from quranbot.backup.retention import DEFAULT_POLICY, RetentionPolicy, prune_backups

log = logging.getLogger(__name__)

JOB_ID = "quranbot-backup"


class BackupScheduler:
    """Back up every `interval` (default hourly) and prune by `policy`, on the running event loop.

    At `start()` the first backup is due `interval` after the newest existing one, or at once if that
    is already past (or there is none): restarting the bot neither skips a backup nor makes an extra.
    """

    def __init__(
        self,
        state_dir: Path,
        backups_dir: Path,
        interval: timedelta = timedelta(hours=1),
        policy: RetentionPolicy = DEFAULT_POLICY,
        scheduler: AsyncIOScheduler | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        if interval <= timedelta(0):
            raise ValueError(f"the backup interval must be positive, not {interval}")
        self.state_dir = state_dir
        self.backups_dir = backups_dir
        self.interval = interval
        self.policy = policy
        #: The newest good backup: the one found at start, then each one this scheduler makes.
        self.last_backup: BackupInfo | None = None
        #: The bot's one scheduler (shared with the quiz schedule), or one of its own when none is given.
        self._scheduler = scheduler or AsyncIOScheduler(timezone=UTC)
        self._owns_scheduler = scheduler is None
        #: Where a scheduled backup is recorded, as done by the bot (one asked for is recorded by the asker).
        self.audit = audit
        #: The scheduled job and `run_now` never write at the same time.
        self._busy = asyncio.Lock()
        self._stopping = False

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running) and not self._stopping

    @property
    def next_run_time(self) -> datetime | None:
        """When the next scheduled backup runs (UTC), or None when not running."""
        if not self.running:
            return None
        job = self._scheduler.get_job(JOB_ID)
        when = None if job is None else job.next_run_time
        return when if isinstance(when, datetime) else None

    def start(self) -> None:
        """Schedule the job on the running event loop (call from inside it)."""
        asyncio.get_running_loop()  # fail here, clearly, rather than inside APScheduler
        now = datetime.now(UTC)
        try:
            newest = next((info for info in list_backups(self.backups_dir) if info.ok), None)
        except OSError as exc:
            log.error("Cannot look at the backups in %s: %s", self.backups_dir, exc)
            newest = None
        self.last_backup = newest
        if newest is None or now - newest.created > self.interval:
            first = now
        else:  # min(): a backup stamped in the future (a clock that moved back) must not stall the job
            first = min(newest.created + self.interval, now + self.interval)
        seconds = self.interval.total_seconds()
        self._stopping = False
        if not self._scheduler.running:
            self._scheduler.start()
        self._scheduler.add_job(
            self._scheduled,
            trigger=IntervalTrigger(seconds=seconds, start_date=first, timezone=UTC),
            id=JOB_ID,
            name="back up the state",
            next_run_time=first,
            coalesce=True,  # after a suspend or a stalled loop: one backup, not one per missed hour
            max_instances=1,
            # Late is still worth running: with coalesce the run is at most one interval late.
            misfire_grace_time=max(1, int(seconds)),
            replace_existing=True,
        )
        log.info("Backups every %s into %s; next at %s", self.interval, self.backups_dir, first)

    def shutdown(self) -> None:
        """Stop scheduling. APScheduler completes this on the loop's next turn (see module notes); a
        backup already writing in its thread still finishes, atomically."""
        if self._scheduler.running and not self._stopping:
            self._stopping = True
            if not self._owns_scheduler:  # the owner stops the shared scheduler; only the job goes
                with contextlib.suppress(JobLookupError):
                    self._scheduler.remove_job(JOB_ID)
                return
            with contextlib.suppress(RuntimeError):  # the loop is already closed: nothing left to stop
                self._scheduler.shutdown(wait=False)

    async def run_now(self) -> BackupInfo:
        """Back up (and prune) now, for "backup now"; raises what `create_backup` raises."""
        return await self._backup()

    async def _backup(self) -> BackupInfo:
        async with self._busy:
            info = await asyncio.to_thread(create_backup, self.state_dir, self.backups_dir)
            self.last_backup = info
            log.info("Backed up %d state files to %s", len(info.files), info.name)
            try:
                await asyncio.to_thread(prune_backups, self.backups_dir, self.policy)
            except Exception as exc:  # the backup itself is made; say so rather than fail it
                log.error("Backup %s was made, but pruning old backups failed: %s", info.name, exc)
        return info

    async def _scheduled(self) -> None:
        try:
            info = await self._backup()
        except asyncio.CancelledError:
            # APScheduler cancels a running job at shutdown; the thread finishes its atomic write.
            log.info("Scheduler stopped while a backup was being written; it completes in the background")
        except Exception as exc:
            system_event(log, logging.ERROR, "Scheduled backup failed: %s", exc or type(exc).__name__)
            log.debug("Backup failure details", exc_info=True)
            self._record("error", str(exc) or type(exc).__name__)
        else:
            self._record("ok", "", name=info.name, files=len(info.files))

    def _record(self, result: Result, reason: str, **args: object) -> None:
        if self.audit is not None:
            self.audit.record(
                AuditRecord.create("bot", BOT_ACTOR, "backup", result=result, reason=reason, args=args)
            )
