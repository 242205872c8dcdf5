"""Listening in Discord: tracking who listens (on voice changes, player events and a tick), the
listener role, achievement notices, and `/stats [member] [privacy]`.

Thin: `ListeningTracker` keeps the figures, `ListenerRoles` the role. Discord does not let a command
with subcommands be run on its own, so privacy is an option of `/stats` (`/stats privacy:off`) rather
than a `/stats privacy off` subcommand beside a bare `/stats`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands, tasks

from quranbot.audio.library import Library, LibraryError
from quranbot.audio.player import PlayerEvent
from quranbot.bot.audit_trail import refuse
from quranbot.bot.command_errors import answer_command_error
from quranbot.bot.guild_player import GuildPlayer
from quranbot.bot.listener_role import ListenerRoles
from quranbot.bot.listening_tracker import Earned, ListeningTracker
from quranbot.bot.listening_view import achievement_notice, stats_embed
from quranbot.bot.localizer import localizer_of, replies
from quranbot.listening import leaderboard
from quranbot.listening.achievements import Achievement
from quranbot.listening.figures import member_figures
from quranbot.ranking import find

log = logging.getLogger(__name__)

TICK_SECONDS = 15.0
COOLDOWN_RATE, COOLDOWN_SECONDS = 5, 10.0
#: The player events after which who-heard-what is brought up to date at once.
TRACKED_EVENTS = frozenset({"started", "track_changed", "surah_finished", "paused", "resumed", "command"})


def _member_key(interaction: discord.Interaction) -> tuple[int | None, int]:
    return (interaction.guild_id, interaction.user.id)


class ListeningCog(commands.Cog, name="ListeningCog"):
    def __init__(
        self,
        bot: commands.Bot,
        tracker: ListeningTracker,
        roles: ListenerRoles,
        library: Library,
        players: Callable[[], dict[int, GuildPlayer]],
        *,
        announce_achievements: bool = False,
    ) -> None:
        self.bot = bot
        self.tracker = tracker
        self.roles = roles
        self.library = library
        self._players = players
        self.announce_achievements = announce_achievements
        #: Role syncs and notices in flight, owned here so shutdown can cancel and await them.
        self._tasks: set[asyncio.Task[None]] = set()
        self._role_sync: dict[int, asyncio.Task[None]] = {}
        self._role_again: set[int] = set()
        #: Per guild: the sync due when the next member has listened long enough for the role.
        self._role_timers: dict[int, asyncio.TimerHandle] = {}
        self._closing = False

    async def cog_load(self) -> None:
        self.tick.start()

    async def cog_unload(self) -> None:
        self._closing = True  # no new role syncs or notices from here on: nothing left to await them
        tick = self.tick.get_task()
        self.tick.cancel()
        for timer in self._role_timers.values():
            timer.cancel()
        self.tracker.finish()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if tick is not None:
            await asyncio.wait({tick})

    # -- following the channel -------------------------------------------------------------------------
    @tasks.loop(seconds=TICK_SECONDS)
    async def tick(self) -> None:
        self.refresh_all()

    def refresh_all(self) -> None:
        for guild_player in list(self._players().values()):
            self.refresh(guild_player)

    def refresh(self, guild_player: GuildPlayer) -> None:
        self._announce_all(self.tracker.refresh(guild_player))
        self._sync_roles(guild_player.guild_id)

    def refresh_guild(self, guild_id: int) -> None:
        guild_player = self._players().get(guild_id)
        if guild_player is not None:
            self.refresh(guild_player)

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        self.refresh_guild(member.guild.id)

    @commands.Cog.listener()
    async def on_voice_ready(self, voice: discord.VoiceClient | None) -> None:
        """Dispatched by RecitationCog once a guild's voice connection is up (also reconciles the role)."""
        for guild_player in list(self._players().values()):
            self.refresh(guild_player)

    @commands.Cog.listener()
    async def on_quran_event(self, guild_player: GuildPlayer, event: PlayerEvent) -> None:
        if event.kind in TRACKED_EVENTS:
            self._announce_all(self.tracker.player_event(guild_player, event))

    # -- the listener role and notices -----------------------------------------------------------------
    def _sync_roles(self, guild_id: int) -> None:
        """One sync at a time per guild; a change meanwhile runs one more after it."""
        if self._closing:
            return
        if guild_id in self._role_sync:
            self._role_again.add(guild_id)
            return
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return
        present = {u: since for (g, u), since in self.tracker.present_since.items() if g == guild_id}
        now = time.monotonic()
        task = asyncio.create_task(self.roles.sync(guild, present, now))
        self._role_sync[guild_id] = task
        self._own(task, lambda: self._role_synced(guild_id))
        self._sync_when_due(guild_id, present, now)

    def _sync_when_due(self, guild_id: int, present: dict[int, float], now: float) -> None:
        """With a delay before the role: sync again when the next member has listened long enough."""
        if self.roles.after_seconds <= 0:
            return
        waits = [since + self.roles.after_seconds - now for since in present.values()]
        pending = [w for w in waits if w > 0]
        timer = self._role_timers.pop(guild_id, None)
        if timer is not None:
            timer.cancel()
        if pending:
            loop = asyncio.get_running_loop()
            self._role_timers[guild_id] = loop.call_later(min(pending) + 0.05, self._sync_roles, guild_id)

    def _role_synced(self, guild_id: int) -> None:
        del self._role_sync[guild_id]
        if guild_id in self._role_again:
            self._role_again.discard(guild_id)
            self._sync_roles(guild_id)

    def _own(self, task: asyncio.Task[None], then: Callable[[], None] = lambda: None) -> None:
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                log.error("Listening task failed", exc_info=finished.exception())
            if not finished.cancelled():
                then()

        task.add_done_callback(done)

    def _announce_all(self, achievements: Earned) -> None:
        for guild_id, user_id, earned in achievements:
            log.info("Member %s earned %s in guild %s", user_id, ", ".join(a.id for a in earned), guild_id)
            if self.announce_achievements and not self._closing:
                self._own(asyncio.create_task(self._announce(guild_id, user_id, earned)))

    async def _announce(self, guild_id: int, user_id: int, earned: list[Achievement]) -> None:
        channel_id = self.tracker.store.settings(guild_id).panel_channel_id
        channel = self.bot.get_channel(channel_id) if channel_id else None
        if not isinstance(channel, discord.TextChannel):
            return
        try:
            text = localizer_of(self.bot).for_guild(channel.guild)
            await channel.send(
                achievement_notice(user_id, earned, text), allowed_mentions=discord.AllowedMentions.none()
            )
        except discord.HTTPException as exc:
            log.warning("Could not announce an achievement in #%s: %s", channel.name, exc)

    # -- /stats ----------------------------------------------------------------------------------------
    @app_commands.command(name="stats", description="Listening statistics: yours or a member's.")
    @app_commands.describe(
        member="Whose statistics (yours if not given)",
        privacy="off: stop tracking you here and delete what was kept; on: track you again",
    )
    @app_commands.guild_only()
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=_member_key)
    async def stats(
        self,
        interaction: discord.Interaction,
        member: discord.Member | None = None,
        privacy: Literal["on", "off"] | None = None,
    ) -> None:
        guild_id = interaction.guild_id
        assert guild_id is not None
        store = self.tracker.store
        text = replies(interaction)
        if privacy is not None:
            if member is not None and member.id != interaction.user.id:
                refuse(interaction, "not allowed: only one's own privacy setting")
                await interaction.response.send_message(
                    text.t("You can only change your own privacy setting."), ephemeral=True
                )
                return
            await self._privacy(interaction, guild_id, privacy == "on")
            return
        who = member or interaction.user
        if who.id in store.listening_opt_outs(guild_id):
            message = (
                text.t("You turned tracking off here (`/stats privacy:on` turns it back on).")
                if who.id == interaction.user.id
                else text.t("{name} does not share listening statistics.", name=who.display_name)
            )
            await interaction.response.send_message(message, ephemeral=True)
            return
        self.refresh_guild(guild_id)
        today = self.tracker.today()
        figures = member_figures(store.listening(guild_id, who.id), today)
        ranked = leaderboard.rank(store.all_listening(guild_id), "all", today)
        place = find(ranked, who.id)
        embed = stats_embed(
            who.display_name,
            figures,
            (place.rank, len(ranked)) if place else None,
            self._reciter_name,
            str(self.tracker.timezone),
            text,
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def _privacy(self, interaction: discord.Interaction, guild_id: int, track: bool) -> None:
        store = self.tracker.store
        user_id = interaction.user.id
        said = replies(interaction)
        if track:
            store.set_listening_opt_out(guild_id, user_id, False)
            self.refresh_guild(guild_id)
            text = said.t("Tracking is on again: your listening here is counted from now.")
        else:
            self.tracker.forget(guild_id, user_id)
            store.set_listening_opt_out(guild_id, user_id, True)
            store.forget_listening(user_id, guild_id)
            self.refresh_guild(guild_id)  # takes the listener role back
            text = said.t(
                "Tracking is off: what was kept about your listening here is deleted, and nothing more "
                "is recorded (`/stats privacy:on` turns it back on)."
            )
        log.info(
            "Member %s turned listening statistics %s in guild %s",
            user_id,
            "on" if track else "off",
            guild_id,
        )
        await interaction.response.send_message(text, ephemeral=True)

    def _reciter_name(self, slug: str) -> str:
        try:
            return self.library.get(slug).name
        except LibraryError:
            return slug

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await answer_command_error(interaction, error)
