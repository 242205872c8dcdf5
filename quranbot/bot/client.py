"""The discord.py bot: intents, cogs and the command sync task. Everything else lives in the cogs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from zoneinfo import ZoneInfo

import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from discord.ext import commands

from quranbot.audio.join_builder import JoinBuilder
from quranbot.audio.library import Library
from quranbot.audio.pacer import Pacer
from quranbot.audio.player import PlayerEvent
from quranbot.audit.writer import AuditLog
from quranbot.bot.boards import ListeningBoard, QuizBoard
from quranbot.bot.cogs.audit import AuditCog
from quranbot.bot.cogs.daily_verse import DailyVerseCog
from quranbot.bot.cogs.language import LanguageCog
from quranbot.bot.cogs.leaderboard import LeaderboardCog
from quranbot.bot.cogs.listening import ListeningCog
from quranbot.bot.cogs.panel import PanelCog
from quranbot.bot.cogs.ping import PingCog
from quranbot.bot.cogs.presence import PresenceCog
from quranbot.bot.cogs.quiz import QuizCog
from quranbot.bot.cogs.quran_text import QuranTextCog
from quranbot.bot.cogs.recitation import RecitationCog
from quranbot.bot.command_sync import CommandSync
from quranbot.bot.command_translator import CommandTranslator
from quranbot.bot.daily_verse import DailyVerses
from quranbot.bot.guild_player import GuildPlayer
from quranbot.bot.listener_role import ListenerRoles
from quranbot.bot.listening_tracker import ListeningTracker
from quranbot.bot.localizer import Localizer
from quranbot.bot.quiz_host import QuizHost
from quranbot.bot.quiz_schedule import QuizSchedule
from quranbot.bot.settings import BotSettings
from quranbot.bot.voice_joins import VoiceJoins
from quranbot.config.timezones import system_timezone
from quranbot.i18n.catalog import Catalogs
from quranbot.metrics.voice import VoiceStatsBook
from quranbot.quiz.bank import BankLoader
from quranbot.store.state import StateStore

log = logging.getLogger(__name__)


def bot_intents() -> discord.Intents:
    """Guilds and voice states only: no privileged intents, so no extra approval on Discord."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.voice_states = True
    return intents


class QuranBot(commands.Bot):
    """The bot; one process runs at most one gateway shard.

    Sharded, it is still a plain `commands.Bot`, given `shard_id` and `shard_count`: discord.py's
    `Client` sends them in IDENTIFY and otherwise behaves as unsharded. `AutoShardedBot` (several shards
    in one process) was not chosen: each shard owns its guilds' state directory, and one process holding
    several shards would need a store per shard routed by guild everywhere the store is used; one
    process per shard keeps one store, one lock and one control socket per process, as unsharded, and a
    shard that crashes takes only its own guilds down (systemd's `quranbot@N` restarts it alone).
    """

    def __init__(
        self,
        settings: BotSettings,
        store: StateStore,
        library: Library,
        scheduler: AsyncIOScheduler,
        quiz_bank: BankLoader,
        *,
        audit: AuditLog,
        voice_stats: VoiceStatsBook | None = None,
        **options: Any,
    ) -> None:
        if settings.shard is not None:
            options.update(shard_id=settings.shard.id, shard_count=settings.shard.count)
        super().__init__(
            command_prefix=commands.when_mentioned, intents=bot_intents(), help_command=None, **options
        )
        self.settings = settings
        self.store = store
        self.library = library
        #: Every guild's audio goes out on this one thread (audio/pacer.py), not a thread per voice client.
        self.pacer = Pacer(on_error=self._stream_failed)
        #: Every guild's track joins, built on one thread and remembered (audio/join_builder.py).
        self.track_joins = JoinBuilder()
        #: Voice joins within the gateway's command limit (quranbot/bot/voice_joins.py).
        self.voice_joins = VoiceJoins()
        self.command_sync = CommandSync(self.tree)
        self._syncing: asyncio.Task[None] | None = None
        #: The audit trail (quranbot/audit/): AuditCog writes what members and the bot do to it.
        self.audit = audit
        #: Per-guild voice figures for /metrics (quranbot/metrics/), kept by the players; None: off.
        self.voice_stats = voice_stats
        #: The bot's one APScheduler (backups, scheduled quizzes, daily verses), started by the runner.
        self.scheduler = scheduler
        self.timezone = ZoneInfo(settings.timezone or system_timezone())
        #: Which language to answer whom in, and the catalogs (quranbot/i18n/); cogs are handed it.
        self.localizer = Localizer(Catalogs(), store)
        self.quiz = QuizHost(
            self, store, quiz_bank, self.timezone, settings.quiz_deadline_seconds, self.localizer
        )
        self.listening = ListeningTracker(
            store,
            self.timezone,
            count_deafened=settings.count_deafened,
        )
        self.daily_verses = DailyVerses(
            self,
            scheduler,
            store,
            self.timezone,
            self.localizer,
            pool=settings.daily_verse_pool,
            grace=settings.daily_verse_grace,
        )

    async def setup_hook(self) -> None:
        await self.add_cog(AuditCog(self, self.audit))
        await self.add_cog(PingCog(self))
        await self.add_cog(LanguageCog(self, self.localizer))
        listening = ListeningCog(
            self,
            self.listening,
            ListenerRoles(self.store, after_seconds=60.0 * self.settings.role_after_minutes),
            self.library,
            self.guild_players,
            announce_achievements=self.settings.announce_achievements,
        )
        await self.add_cog(listening)
        await self.add_cog(PresenceCog(self, self.localizer.english()))
        await self.add_cog(
            RecitationCog(
                self,
                self.library,
                self.store,
                self.settings.voice_channels,
                self.pacer,
                self.track_joins,
                self.voice_joins,
                self.player_changed,
                pause_when_empty=self.settings.pause_when_empty,
                voice_stats=self.voice_stats,
            )
        )
        await self.add_cog(PanelCog(self, self.store, self.localizer))
        await self.add_cog(QuranTextCog(self))
        schedule = QuizSchedule(
            self.scheduler, self.quiz, self.store, self.timezone, self.settings.quiz_schedules
        )
        await self.add_cog(QuizCog(self, self.quiz, schedule))
        await self.add_cog(DailyVerseCog(self.daily_verses))
        await self.add_cog(
            LeaderboardCog(
                self, [QuizBoard(self.quiz), ListeningBoard(self.listening, listening.refresh_guild)]
            )
        )
        await self.tree.set_translator(CommandTranslator(self.localizer.catalogs))
        # In the background: the bot connects and recites whatever Discord answers (bot/command_sync.py).
        self._syncing = asyncio.create_task(self.command_sync.run(), name="slash command sync")

    def guild_players(self) -> dict[int, GuildPlayer]:
        """The guilds reciting now, by guild id (empty until the bot has logged in)."""
        cog = self.get_cog(RecitationCog.__cog_name__)
        return cog.players if isinstance(cog, RecitationCog) else {}

    def save_positions(self) -> None:
        """Every guild's exact frame into the store (the flusher calls it before each write)."""
        for guild_player in self.guild_players().values():
            guild_player.save()

    async def audio_gap(self) -> None:
        """Until the audio pacer's next turn has ended (at once when it sends nothing): the moment for
        milliseconds of work on the loop (quranbot/bot/tick_handoff.py)."""
        cog = self.get_cog(RecitationCog.__cog_name__)
        if isinstance(cog, RecitationCog):
            await cog.handoff.gap()

    def accrue_listening(self) -> None:
        """Everyone's listening up to now, into the store (the flusher calls it before writing it)."""
        cog = self.get_cog(ListeningCog.__cog_name__)
        if isinstance(cog, ListeningCog):
            cog.refresh_all()

    def player_changed(self, guild_player: GuildPlayer, event: PlayerEvent) -> None:
        """Every player event, as `on_quran_event(guild_player, event)` for the cogs that show it."""
        self.dispatch("quran_event", guild_player, event)

    async def close(self) -> None:
        """Close as discord.py does, after ending its ready task, which `Client.close()` leaves running.

        discord.py (2.7.1, state.py `_delay_ready`) dispatches `ready` from a task that waits
        `guild_ready_timeout` (2 s) after the last GUILD_CREATE. A stop within those seconds would
        leave it to dispatch on a closed client: an AttributeError from `_schedule_event` (the loop is
        gone) and a coroutine never awaited. It is cancelled (it expects that) and awaited first.
        """
        ready: asyncio.Task[None] | None = getattr(self._connection, "_ready_task", None)
        for task in (ready, self._syncing):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task})
        try:
            await super().close()  # the cogs unload first: every guild player leaves its stream
        finally:
            await asyncio.to_thread(self.pacer.close)
            self.track_joins.shutdown(wait=False)

    def _stream_failed(self, stream: object, exc: BaseException) -> None:
        """On the pacer's thread: one guild's stream raised and was dropped; the others go on, and that
        guild's watchdog sees its frames stop and rejoins (which puts the stream back)."""
        log.error("A guild's audio stream failed and was stopped until its watchdog rejoins", exc_info=exc)

    async def on_ready(self) -> None:
        assert self.user is not None
        shard = "" if self.settings.shard is None else f" as {self.settings.shard}"
        log.info(
            "Logged in as %s (id %s)%s in %d server(s)", self.user, self.user.id, shard, len(self.guilds)
        )
