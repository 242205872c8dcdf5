"""Scheduled quizzes: one APScheduler job per guild on the bot's scheduler, posting at each slot.

Where and how often comes from the guild's `/quiz schedule` (saved in the store), else config.toml.
"Exactly once" is the slot's time written to the store before the question is posted: a restart
finds it handled and does not post again (a crash in the few milliseconds between the two loses that
one post rather than doubling it). At start a slot missed while the bot was down is posted once if it
is recent enough (`schedule.grace`), and skipped with a log line if not: never a backlog.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from zoneinfo import ZoneInfo

import discord
from apscheduler.jobstores.base import JobLookupError  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from quranbot.audit.record import Result
from quranbot.bot.audit_trail import report_bot_action
from quranbot.bot.quiz_host import ChannelBusy, QuizHost
from quranbot.quiz.picker import NoQuestions
from quranbot.quiz.schedule import SlotTrigger, grace, latest_slot, next_slot
from quranbot.store.state import StateStore

log = logging.getLogger(__name__)


def job_id(guild_id: int) -> str:
    return f"quranbot-quiz-{guild_id}"


class QuizSchedule:
    def __init__(
        self,
        scheduler: AsyncIOScheduler,
        host: QuizHost,
        store: StateStore,
        timezone: ZoneInfo,
        defaults: dict[int, tuple[int, int]],
    ) -> None:
        self.scheduler = scheduler
        self.host = host
        self.store = store
        self.timezone = timezone
        #: config.toml's schedules: guild id -> (channel id, minutes).
        self.defaults = defaults

    def schedule_of(self, guild_id: int) -> tuple[int, int] | None:
        """(channel id, interval in seconds): the guild's own, else config.toml's, else None."""
        saved = self.store.quiz_guild(guild_id)
        if saved.schedule_channel_id is not None and saved.schedule_interval_seconds:
            return saved.schedule_channel_id, saved.schedule_interval_seconds
        default = self.defaults.get(guild_id)
        return (default[0], default[1] * 60) if default else None

    def guild_ids(self) -> list[int]:
        saved = [g.guild_id for g in self.store.all_quiz_guilds() if g.schedule_channel_id is not None]
        return sorted(set(saved) | set(self.defaults))

    # -- jobs ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Catch up what was missed while stopped, then arm every guild's job (on the running loop)."""
        if not self.scheduler.running:
            self.scheduler.start()
        for guild_id in self.guild_ids():
            await self.run_slot(guild_id)
            self.arm(guild_id)

    def arm(self, guild_id: int) -> datetime.datetime | None:
        """(Re)schedule the guild's job; returns the next slot, or None when it has no schedule."""
        schedule = self.schedule_of(guild_id)
        self.disarm(guild_id)
        if schedule is None:
            return None
        _, interval = schedule
        self.scheduler.add_job(
            self.run_slot,
            trigger=SlotTrigger(interval, self.timezone),
            args=(guild_id,),
            id=job_id(guild_id),
            name=f"quiz of guild {guild_id}",
            coalesce=True,  # a stalled loop or a suspend: one post, not one per missed slot
            max_instances=1,
            misfire_grace_time=grace(interval),
            replace_existing=True,
        )
        return next_slot(datetime.datetime.now(datetime.UTC), interval, self.timezone)

    def disarm(self, guild_id: int) -> None:
        if self.scheduler.running:
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(job_id(guild_id))

    def set(
        self, guild_id: int, channel_id: int | None, interval_seconds: int | None
    ) -> datetime.datetime | None:
        """Save a guild's schedule (None: off); its first post is at the next slot, not now."""
        quiz_guild = self.store.quiz_guild(guild_id)
        quiz_guild.schedule_channel_id = channel_id
        quiz_guild.schedule_interval_seconds = interval_seconds
        if interval_seconds:
            quiz_guild.last_slot = latest_slot(
                datetime.datetime.now(datetime.UTC), interval_seconds, self.timezone
            ).timestamp()
        self.store.save_quiz_guild(quiz_guild)
        return self.arm(guild_id)

    async def run_slot(self, guild_id: int) -> None:
        """Post the quiz of the current slot, unless it was handled already or is too old to catch up."""
        schedule = self.schedule_of(guild_id)
        if schedule is None:
            return
        channel_id, interval = schedule
        now = datetime.datetime.now(datetime.UTC)
        slot = latest_slot(now, interval, self.timezone)
        quiz_guild = self.store.quiz_guild(guild_id)
        if slot.timestamp() <= quiz_guild.last_slot:
            return
        quiz_guild.last_slot = slot.timestamp()
        self.store.save_quiz_guild(quiz_guild)  # before posting: exactly once, across restarts too
        late = (now - slot).total_seconds()
        shown = slot.astimezone(self.timezone).strftime("%Y-%m-%d %H:%M")
        if late > grace(interval):
            log.info(
                "Skipped the scheduled quiz of %s in guild %s: missed while stopped (%.0f s late)",
                shown, guild_id, late,
            )  # fmt: skip
            self._record(guild_id, channel_id, "refused", f"missed while stopped ({late:.0f} s late)", shown)
            return
        try:
            question = self.host.choose(guild_id, None, None)
            channel = self.host.bot.get_partial_messageable(channel_id, guild_id=guild_id)
            await self.host.ask(channel, channel_id, guild_id, question)
        except ChannelBusy:
            log.info("Scheduled quiz in channel %s skipped: a question is still open there", channel_id)
            self._record(guild_id, channel_id, "refused", "a question is still open there", shown)
        except NoQuestions as exc:
            log.warning("Scheduled quiz in guild %s: %s", guild_id, exc)
            self._record(guild_id, channel_id, "error", str(exc), shown)
        except discord.HTTPException as exc:
            log.warning("Could not post the scheduled quiz in channel %s: %s", channel_id, exc)
            self._record(guild_id, channel_id, "error", f"Discord refused the post: {exc}", shown)
        else:
            self._record(guild_id, channel_id, "ok", "", shown, question=question.id)

    def _record(
        self, guild_id: int, channel_id: int, result: Result, reason: str, slot: str, **args: object
    ) -> None:
        report_bot_action(
            self.host.bot, "quiz.scheduled", guild_id=guild_id, channel_id=channel_id, result=result,
            reason=reason, slot=slot, **args,
        )  # fmt: skip
