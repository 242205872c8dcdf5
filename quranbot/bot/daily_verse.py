"""The daily verse: one APScheduler job per guild on the bot's scheduler, posting an ayah at the guild's
time of day, plus a once-a-minute sweep.

Where and when comes from the guild's `/setup` (settings.json), else config.toml. Which ayah: one not
posted in that guild before, until the pool is exhausted (quranbot/daily_verse/pool.py). "Exactly once"
is the slot's local date written to the store before the ayah is posted: a restart finds it done and
does not post again (a crash in the milliseconds between the two loses that day's post rather than
doubling it). At start, and on every sweep, the latest slot is checked: one missed while the bot was down
or the machine asleep, or passed by a wall-clock step, is posted once if it is within the grace period,
and skipped with a log line if not: never a backlog. The cron job alone would miss a slot the wall
clock jumps over, since APScheduler sleeps on a computed delay.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import random
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import discord
from apscheduler.jobstores.base import JobLookupError  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from quranbot.bot.audit_trail import report_bot_action
from quranbot.bot.localizer import Localizer
from quranbot.config.schema import DEFAULT_DAILY_VERSE_TIME
from quranbot.daily_verse.pool import next_verse, parse_pool, whole_quran
from quranbot.daily_verse.timing import due_slot, parse_time_of_day
from quranbot.i18n.catalog import Messages
from quranbot.i18n.surah_names import surah_name
from quranbot.quran.metadata import AyahRef, load_metadata
from quranbot.quran.text import ARABIC_CREDIT, TRANSLATION_CREDIT, TRANSLATION_FILE, load_text
from quranbot.store.records import DailyVerseState
from quranbot.store.state import StateStore

log = logging.getLogger(__name__)

SWEEP_JOB = "quranbot-daily-verse-sweep"
SWEEP_SECONDS = 60


def job_id(guild_id: int) -> str:
    return f"quranbot-daily-verse-{guild_id}"


class NoDailyVerse(LookupError):
    """The guild has no daily verse channel; the message says how to set one."""


@dataclass(frozen=True)
class Posted:
    guild_id: int
    channel_id: int
    ref: AyahRef
    message_id: int


def verse_embed(ref: AyahRef, text: Messages) -> discord.Embed:
    """The ayah as Tanzil has it, its translation, its reference and both attributions. The Quran's
    text is the same in every language: only the title and the credits follow the server's."""
    surah = load_metadata().surah(ref.surah)
    arabic, translation = load_text()[ref], load_text(TRANSLATION_FILE)[ref]
    shown_ref = text.ltr(str(ref))
    embed = discord.Embed(
        title=text.t(
            "Verse of the day · {surah} {ref}", surah=surah_name(ref.surah, text.language), ref=shown_ref
        ),
        description=f"{arabic}\n\n{translation}",
        colour=discord.Colour.dark_green(),
    )
    credits = f"{text.t(ARABIC_CREDIT)} · {text.t(TRANSLATION_CREDIT)}"
    embed.set_footer(text=f"{surah.english_name} ({shown_ref}) · {credits}")
    return embed


class DailyVerses:
    def __init__(
        self,
        bot: discord.Client,
        scheduler: AsyncIOScheduler,
        store: StateStore,
        timezone: ZoneInfo,
        localizer: Localizer,
        pool: tuple[str, ...] = (),
        grace: datetime.timedelta = datetime.timedelta(hours=6),
        rng: random.Random | None = None,
    ) -> None:
        self.bot = bot
        self.scheduler = scheduler
        self.store = store
        self.timezone = timezone
        self.localizer = localizer
        self.pool: tuple[int, ...] | range = parse_pool(pool) or whole_quran()
        self.grace = grace
        self.rng = rng or random.Random()

    def schedule_of(self, guild_id: int) -> tuple[int, datetime.time] | None:
        """(channel id, time of day) in effect: /setup's, else config.toml's; None: no daily verse."""
        settings = self.store.settings(guild_id)
        if settings.daily_verse_channel_id is None:
            return None
        return settings.daily_verse_channel_id, parse_time_of_day(
            settings.daily_verse_time or DEFAULT_DAILY_VERSE_TIME
        )

    def guild_ids(self) -> list[int]:
        saved = {s.guild_id for s in self.store.all_settings() if s.daily_verse_channel_id is not None}
        configured = {g for g, s in self.store.guild_defaults.items() if s.daily_verse_channel_id is not None}
        return sorted(saved | configured)

    # -- jobs ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Catch up what was missed while stopped, then arm every guild's job and the sweep."""
        if not self.scheduler.running:
            self.scheduler.start()
        await self.sweep()
        for guild_id in self.guild_ids():
            self.arm(guild_id)
        self.scheduler.add_job(
            self.sweep,
            trigger=IntervalTrigger(seconds=SWEEP_SECONDS),
            id=SWEEP_JOB,
            name="daily verse sweep",
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )

    def stop(self) -> None:
        if self.scheduler.running:
            for guild_id in self.guild_ids():
                self.disarm(guild_id)
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(SWEEP_JOB)

    async def sweep(self) -> None:
        for guild_id in self.guild_ids():
            await self.run_slot(guild_id)

    def arm(self, guild_id: int) -> None:
        """(Re)schedule the guild's job at its time of day; none when it has no daily verse."""
        self.disarm(guild_id)
        schedule = self.schedule_of(guild_id)
        if schedule is None or not self.scheduler.running:
            return
        _, at = schedule
        self.scheduler.add_job(
            self.run_slot,
            trigger=CronTrigger(hour=at.hour, minute=at.minute, second=at.second, timezone=self.timezone),
            args=(guild_id,),
            id=job_id(guild_id),
            name=f"daily verse of guild {guild_id}",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(self.grace.total_seconds()) or 1,
            replace_existing=True,
        )

    def disarm(self, guild_id: int) -> None:
        if self.scheduler.running:
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(job_id(guild_id))

    def changed(self, guild_id: int) -> None:
        """The guild's channel or time changed (/setup): it takes effect at its next time of day, not at
        once for a time already passed today (and a day already posted is not posted again)."""
        state = self.store.daily_verse(guild_id)
        state.set_at = time.time()
        self.store.save_daily_verse(state)
        self.arm(guild_id)

    async def run_slot(self, guild_id: int) -> None:
        """Post the ayah of the latest slot, unless it was handled already or is too old to catch up."""
        schedule = self.schedule_of(guild_id)
        if schedule is None:
            return
        channel_id, at = schedule
        state = self.store.daily_verse(guild_id)
        now = datetime.datetime.now(datetime.UTC)
        set_at = datetime.datetime.fromtimestamp(state.set_at, datetime.UTC)
        due = due_slot(now, at, self.timezone, state.last_slot, self.grace, not_before=set_at)
        if due is None:
            return
        slot, in_time = due
        state.last_slot = slot.date().isoformat()
        if not in_time:
            self.store.save_daily_verse(state)
            late = (now - slot).total_seconds() / 60
            log.info(
                "Skipped the daily verse of %s in guild %s: missed while stopped (%.0f min late)",
                state.last_slot, guild_id, late,
            )  # fmt: skip
            report_bot_action(
                self.bot, "daily_verse.post", guild_id=guild_id, channel_id=channel_id, result="refused",
                reason=f"missed while stopped ({late:.0f} min late)", day=state.last_slot,
            )  # fmt: skip
            return
        ref = self._choose(guild_id, state)  # saves the state: the slot is done before it is posted
        posted = await self._post(guild_id, channel_id, ref, f"the daily verse of {state.last_slot}")
        report_bot_action(
            self.bot, "daily_verse.post", guild_id=guild_id, channel_id=channel_id,
            result="ok" if posted.message_id else "error",
            reason="" if posted.message_id else "Discord refused the post (see the log)",
            day=state.last_slot, ayah=str(ref),
        )  # fmt: skip

    async def post_now(self, guild_id: int) -> Posted:
        """The admin's `quranbot verse post-now`: the next ayah of the pool at once (the day's scheduled
        post still comes at its time)."""
        schedule = self.schedule_of(guild_id)
        if schedule is None:
            raise NoDailyVerse(
                f"guild {guild_id} has no daily verse channel: /setup daily_verse_channel, or "
                "daily_verse_channel in config.toml"
            )
        ref = self._choose(guild_id, self.store.daily_verse(guild_id))
        return await self._post(guild_id, schedule[0], ref, "a daily verse posted now", raising=True)

    def _choose(self, guild_id: int, state: DailyVerseState) -> AyahRef:
        index, new_round = next_verse(self.pool, state.posted, self.rng)
        if new_round:
            state.posted, state.rounds = [], state.rounds + 1
            log.info("Guild %s has had every ayah of its daily verse pool: a new round", guild_id)
        state.posted.append(index)
        self.store.save_daily_verse(state)
        return load_metadata().ayah_at(index)

    async def _post(
        self, guild_id: int, channel_id: int, ref: AyahRef, what: str, raising: bool = False
    ) -> Posted:
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            text = self.localizer.for_guild(self.bot.get_guild(guild_id) or guild_id)
            message = await channel.send(embed=verse_embed(ref, text))
        except discord.HTTPException as exc:
            log.warning("Could not post %s (%s) in channel %s: %s", what, ref, channel_id, exc)
            if raising:
                raise
            return Posted(guild_id, channel_id, ref, 0)
        log.info("Posted %s in guild %s: %s", what, guild_id, ref)
        return Posted(guild_id, channel_id, ref, message.id)
