"""Recitation: join each guild's voice channel on start, recite around the clock, and the slash commands
that steer it. Thin: it parses, checks who may steer, and calls the guild's `GuildPlayer`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import discord
from discord import app_commands
from discord.ext import commands

from quranbot.audio.join_builder import JoinBuilder
from quranbot.audio.library import Library
from quranbot.audio.pacer import Pacer
from quranbot.audio.player import PlayerError, PlayerEvent
from quranbot.bot.audit_trail import refuse
from quranbot.bot.command_errors import answer_command_error
from quranbot.bot.guild_player import GuildPlayer
from quranbot.bot.localizer import replies
from quranbot.bot.quran_refusals import refusal
from quranbot.bot.tick_handoff import TickHandoff
from quranbot.bot.voice_joins import VoiceJoins
from quranbot.clock import clock
from quranbot.config.rules import BadValue, time_of_day
from quranbot.config.schema import DEFAULT_DAILY_VERSE_TIME
from quranbot.i18n.catalog import Language, Messages, Phrase
from quranbot.i18n.surah_names import SurahLabel
from quranbot.metrics.voice import VoiceStatsBook
from quranbot.quran.lookup import search_surahs
from quranbot.quran.metadata import load_metadata
from quranbot.store.records import GuildSettings
from quranbot.store.state import StateStore

log = logging.getLogger(__name__)

#: Per member: this many commands per this many seconds.
COOLDOWN_RATE, COOLDOWN_SECONDS = 5, 10.0


def surah_label(number: int, text: Messages) -> str:
    return SurahLabel(number).said_in(text)


def progress_bar(elapsed: float, total: float, width: int = 16) -> str:
    filled = 0 if total <= 0 else min(width, round(width * elapsed / total))
    return "▬" * filled + "🔘" + "▬" * (width - filled)


class NotAllowed(app_commands.CheckFailure):
    pass


class RecitationCog(commands.Cog):
    def __init__(
        self,
        bot: commands.Bot,
        library: Library,
        store: StateStore,
        channel_ids: tuple[int, ...],
        pacer: Pacer,
        track_joins: JoinBuilder,
        joins: VoiceJoins,
        on_change: Callable[[GuildPlayer, PlayerEvent], None] = lambda gp, event: None,
        pause_when_empty: bool = False,
        voice_stats: VoiceStatsBook | None = None,
    ) -> None:
        self.bot = bot
        self.pacer = pacer
        self.track_joins = track_joins
        #: Player events from the pacer's thread, to the loop once per tick (quranbot/bot/tick_handoff.py).
        self.handoff = TickHandoff(asyncio.get_running_loop(), pacer)
        self.joins = joins
        #: Each guild's frames, lateness and recoveries, for /metrics; None: metrics are off.
        self.voice_stats = voice_stats
        self.library = library
        self.store = store
        self.channel_ids = channel_ids
        self.players: dict[int, GuildPlayer] = {}
        self._on_change = on_change
        self.pause_when_empty = pause_when_empty

    async def cog_unload(self) -> None:
        for guild_player in list(self.players.values()):
            await guild_player.stop()

    # -- joining ----------------------------------------------------------------------------------------
    def configured_channel(self, guild: discord.Guild) -> int | None:
        saved = self.store.settings(guild.id).voice_channel_id
        if saved is not None:
            return saved
        return next((cid for cid in self.channel_ids if guild.get_channel(cid) is not None), None)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self.start_guild(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.start_guild(guild)

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        guild_player = self.players.get(member.guild.id)
        if guild_player is not None and self.pause_when_empty:
            guild_player.follow_listeners()

    async def start_guild(self, guild: discord.Guild) -> GuildPlayer | None:
        channel_id = self.configured_channel(guild)
        if channel_id is None:
            return None
        existing = self.players.get(guild.id)
        if existing is not None and existing.channel_id == channel_id:
            return existing
        if existing is not None:
            await existing.stop()
        stats = None if self.voice_stats is None else self.voice_stats.for_guild(guild.id)
        guild_player = GuildPlayer(
            self.bot,
            guild.id,
            channel_id,
            self.library,
            self.store,
            self.pacer,
            self.track_joins,
            self.handoff,
            self.joins,
            self._on_change,
            stats=stats,
        )
        self.players[guild.id] = guild_player
        await guild_player.connect()
        guild_player.start()
        if self.pause_when_empty:
            guild_player.follow_listeners()
        self.bot.dispatch("voice_ready", guild_player.voice_client)
        return guild_player

    # -- who may steer ----------------------------------------------------------------------------------
    def may_steer(self, interaction: discord.Interaction) -> bool:
        member = interaction.user
        if not isinstance(member, discord.Member):
            return False
        if member.guild_permissions.manage_guild:
            return True
        role_id = self.store.settings(member.guild.id).controller_role_id
        return role_id is None or any(role.id == role_id for role in member.roles)

    def guild_player(self, interaction: discord.Interaction) -> GuildPlayer:
        guild_player = self.players.get(interaction.guild_id or 0)
        text = replies(interaction)
        if guild_player is None:
            raise PlayerError(text.t("QuranBot is not set up to recite here yet: an admin can run /setup"))
        if not self.may_steer(interaction):
            role_id = self.store.settings(guild_player.guild_id).controller_role_id
            raise NotAllowed(
                text.t("Only members with the {role} role can steer the recitation", role=f"<@&{role_id}>")
            )
        return guild_player

    async def steer(
        self, interaction: discord.Interaction, what: Phrase, command: Callable[[GuildPlayer], None]
    ) -> None:
        """`what` is said to the member in their language and shown on the panel in the server's."""
        try:
            guild_player = self.guild_player(interaction)
            guild_player.act(what, interaction.user.display_name, lambda: command(guild_player))
        except (PlayerError, NotAllowed) as exc:
            refuse(interaction, str(exc))
            await interaction.response.send_message(str(exc), ephemeral=True)
            return
        line = self.now_line(guild_player, replies(interaction), what)
        await interaction.response.send_message(line, ephemeral=True)

    def now_line(self, guild_player: GuildPlayer, text: Messages, what: Phrase | None = None) -> str:
        now = guild_player.now_playing()
        reciter = now.reciter_name or now.reciter or text.t("no reciter")
        where = text.ltr(f"{clock(now.elapsed_seconds)}/{clock(now.total_seconds)}")
        surah: object = SurahLabel(now.surah)
        if now.ayah:
            surah = text.t("{surah}, ayah {ayah}", surah=surah, ayah=now.ayah)
        if now.state.value == "paused":
            line = text.t("Paused: {surah} — {reciter} [{where}]", surah=surah, reciter=reciter, where=where)
        elif now.state.value == "playing":
            line = text.t(
                "Now reciting: {surah} — {reciter} [{where}]", surah=surah, reciter=reciter, where=where
            )
        else:
            line = text.t("Ready: {surah} — {reciter} [{where}]", surah=surah, reciter=reciter, where=where)
        return f"{what.said_in(text)}. {line}" if what else line

    # -- autocomplete -----------------------------------------------------------------------------------
    async def surah_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return [
            app_commands.Choice(
                name=f"{s.number}. {s.name} · {s.english_name} · {s.arabic_name}"[:100], value=s.number
            )
            for s in search_surahs(current, limit=25)
        ]

    async def reciter_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        wanted = current.casefold()
        return [
            app_commands.Choice(name=r.name[:100], value=r.slug)
            for r in self.library.reciters()
            if wanted in r.name.casefold() or wanted in r.slug
        ][:25]

    # -- commands ---------------------------------------------------------------------------------------
    @app_commands.command(name="play", description="Recite a surah (from its beginning).")
    @app_commands.describe(surah="Surah number or name", reciter="Reciter (optional)")
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=lambda i: (i.guild_id, i.user.id))
    async def play(self, interaction: discord.Interaction, surah: int, reciter: str | None = None) -> None:
        if not 1 <= surah <= 114:
            refuse(interaction, f"bad input: no surah {surah}")
            await interaction.response.send_message(
                replies(interaction).t("Surah {surah} does not exist: choose 1–114.", surah=surah),
                ephemeral=True,
            )
            return
        await self.steer(
            interaction,
            Phrase.of("Playing {surah}", surah=SurahLabel(surah)),
            lambda gp: gp.player.play_surah(surah, reciter),
        )

    @play.autocomplete("surah")
    async def _play_surah(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self.surah_choices(interaction, current)

    @play.autocomplete("reciter")
    async def _play_reciter(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.reciter_choices(interaction, current)

    @app_commands.command(
        name="verse", description="Recite from an ayah (needs a reciter with per-ayah audio)."
    )
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=lambda i: (i.guild_id, i.user.id))
    async def verse(self, interaction: discord.Interaction, surah: int, ayah: int) -> None:
        await self.recite_from(interaction, surah, ayah)

    async def recite_from(self, interaction: discord.Interaction, surah: int, ayah: int) -> None:
        """Recite from an ayah on the current reciter, for `/verse` and the "Recite this" button of
        `/ayah` alike: the same check of who may steer, and the same refusal naming the reciters that
        have per-ayah audio for it when this one has not."""
        try:
            load_metadata().check_ayah(surah, ayah)
        except ValueError as exc:
            refuse(interaction, f"bad input: {exc}")
            await interaction.response.send_message(refusal(exc, replies(interaction)), ephemeral=True)
            return
        able = [r.name for r in self.library.reciters() if ayah in r.ayahs(surah)]
        text = replies(interaction)
        ref = text.ltr(f"{surah}:{ayah}")

        def jump(gp: GuildPlayer) -> None:
            try:
                gp.player.play_ayah(surah, ayah)
            except PlayerError:
                if able:
                    message = text.t(
                        "This reciter has no per-ayah audio for {ref}. Reciters with it: {reciters}.",
                        ref=ref,
                        reciters=", ".join(able),
                    )
                else:
                    message = text.t(
                        "This reciter has no per-ayah audio for {ref}. "
                        "No imported reciter has per-ayah audio for it.",
                        ref=ref,
                    )
                raise PlayerError(message) from None

        await self.steer(interaction, Phrase.of("Playing {ref}", ref=f"{surah}:{ayah}"), jump)

    @verse.autocomplete("surah")
    async def _verse_surah(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self.surah_choices(interaction, current)

    @app_commands.command(name="pause", description="Pause the recitation.")
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=lambda i: (i.guild_id, i.user.id))
    async def pause(self, interaction: discord.Interaction) -> None:
        await self.steer(interaction, Phrase.of("Paused"), lambda gp: gp.player.pause())

    @app_commands.command(name="resume", description="Resume the recitation.")
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=lambda i: (i.guild_id, i.user.id))
    async def resume(self, interaction: discord.Interaction) -> None:
        await self.steer(interaction, Phrase.of("Resumed"), lambda gp: gp.player.resume())

    @app_commands.command(name="next", description="Skip to the next surah.")
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=lambda i: (i.guild_id, i.user.id))
    async def next_(self, interaction: discord.Interaction) -> None:
        await self.steer(interaction, Phrase.of("Skipped to the next surah"), lambda gp: gp.player.next())

    @app_commands.command(
        name="previous", description="Back to the previous surah (or the start of this one)."
    )
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=lambda i: (i.guild_id, i.user.id))
    async def previous(self, interaction: discord.Interaction) -> None:
        await self.steer(interaction, Phrase.of("Went back"), lambda gp: gp.player.previous())

    @app_commands.command(name="loop", description="Repeat the current surah (on/off).")
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=lambda i: (i.guild_id, i.user.id))
    async def loop(self, interaction: discord.Interaction, on: bool | None = None) -> None:
        def toggle(gp: GuildPlayer) -> None:
            gp.player.set_loop(not gp.now_playing().loop if on is None else on)

        await self.steer(interaction, Phrase.of("Loop changed"), toggle)

    @app_commands.command(name="shuffle", description="Play surahs in a shuffled order (on/off).")
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=lambda i: (i.guild_id, i.user.id))
    async def shuffle(self, interaction: discord.Interaction, on: bool | None = None) -> None:
        def toggle(gp: GuildPlayer) -> None:
            gp.player.set_shuffle(not gp.now_playing().shuffle if on is None else on)

        await self.steer(interaction, Phrase.of("Shuffle changed"), toggle)

    @app_commands.command(name="reciter", description="Switch reciter, staying on the current surah.")
    @app_commands.checks.cooldown(COOLDOWN_RATE, COOLDOWN_SECONDS, key=lambda i: (i.guild_id, i.user.id))
    async def reciter(self, interaction: discord.Interaction, reciter: str) -> None:
        await self.steer(interaction, Phrase.of("Reciter changed"), lambda gp: gp.player.set_reciter(reciter))

    @reciter.autocomplete("reciter")
    async def _reciter(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.reciter_choices(interaction, current)

    @app_commands.command(name="nowplaying", description="What is being recited, and where.")
    async def nowplaying(self, interaction: discord.Interaction) -> None:
        guild_player = self.players.get(interaction.guild_id or 0)
        text = replies(interaction)
        if guild_player is None:
            await interaction.response.send_message(
                text.t("Nothing is being recited here yet."), ephemeral=True
            )
            return
        now = guild_player.now_playing()
        line = self.now_line(guild_player, text)
        bar = progress_bar(now.elapsed_seconds, now.total_seconds)
        await interaction.response.send_message(f"{line}\n{bar}", ephemeral=True)

    @app_commands.command(
        name="setup",
        description=(
            "Choose the voice channel, panel channel, controller and listener roles, daily verse, alerts."
        ),
    )
    @app_commands.describe(
        voice_channel="Where to recite (kept if not given)",
        listener_role="Given to members while they listen (kept if not given)",
        no_listener_role="True: stop giving the listener role (and take it back)",
        daily_verse_channel="Where the daily verse is posted (kept if not given)",
        daily_verse_time="When, HH:MM on this server's clock (default 07:00)",
        no_daily_verse="True: stop posting the daily verse",
        log_channel="Where the bot posts alerts: errors, restarts, voice trouble (kept if not given)",
        no_log_channel="True: stop posting alerts here",
        language="What members read here: panel, quiz, daily verse, replies (a member's /language wins)",
    )
    @app_commands.choices(
        language=[app_commands.Choice(name=lang.native_name, value=lang.value) for lang in Language]
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup(
        self,
        interaction: discord.Interaction,
        voice_channel: discord.VoiceChannel | None = None,
        panel_channel: discord.TextChannel | None = None,
        controller_role: discord.Role | None = None,
        listener_role: discord.Role | None = None,
        no_listener_role: bool = False,
        daily_verse_channel: discord.TextChannel | None = None,
        daily_verse_time: str | None = None,
        no_daily_verse: bool = False,
        log_channel: discord.TextChannel | None = None,
        no_log_channel: bool = False,
        language: app_commands.Choice[str] | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        settings = self.store.settings(guild.id)
        voice_channel_id = voice_channel.id if voice_channel else self.configured_channel(guild)
        if voice_channel_id is None:
            refuse(interaction, "bad input: no voice channel chosen")
            await interaction.response.send_message(
                replies(interaction).t("Choose the voice channel to recite in (`voice_channel`)."),
                ephemeral=True,
            )
            return
        try:
            verse_time = None if daily_verse_time is None else time_of_day(daily_verse_time)
        except BadValue as exc:
            refuse(interaction, f"bad input: daily_verse_time: {exc}")
            await interaction.response.send_message(
                replies(interaction).t("daily_verse_time: {problem}.", problem=str(exc)), ephemeral=True
            )
            return
        settings = GuildSettings(
            guild_id=guild.id,
            voice_channel_id=voice_channel_id,
            panel_channel_id=panel_channel.id if panel_channel else settings.panel_channel_id,
            panel_message_id=settings.panel_message_id,
            controller_role_id=controller_role.id if controller_role else None,
            listener_role_id=(
                None if no_listener_role else listener_role.id if listener_role else settings.listener_role_id
            ),
            daily_verse_channel_id=(
                None
                if no_daily_verse
                else daily_verse_channel.id
                if daily_verse_channel
                else settings.daily_verse_channel_id
            ),
            daily_verse_time=verse_time or settings.daily_verse_time,
            log_channel_id=None
            if no_log_channel
            else log_channel.id
            if log_channel
            else settings.log_channel_id,
            language=language.value if language else settings.language,
        )
        self.store.save_settings(settings)
        text = replies(interaction)  # after the save: a new server language answers in itself
        parts = [text.t("Reciting in {channel}", channel=f"<#{voice_channel_id}>")]
        if panel_channel:
            parts.append(text.t("control panel in {channel}", channel=panel_channel.mention))
        if controller_role:
            parts.append(text.t("{role} steers", role=controller_role.mention))
        else:
            parts.append(text.t("everyone may steer"))
        if listener_role and not no_listener_role:
            parts.append(text.t("listeners get {role}", role=listener_role.mention))
        if no_listener_role:
            parts.append(text.t("no listener role"))
        if settings.daily_verse_channel_id:
            parts.append(
                text.t(
                    "the daily verse in {channel} at {time}",
                    channel=f"<#{settings.daily_verse_channel_id}>",
                    time=settings.daily_verse_time or DEFAULT_DAILY_VERSE_TIME,
                )
            )
        if no_daily_verse:
            parts.append(text.t("no daily verse"))
        if log_channel and not no_log_channel:
            parts.append(text.t("alerts in {channel}", channel=log_channel.mention))
        if no_log_channel:
            parts.append(text.t("no alerts here"))
        if language:
            parts.append(text.t("members here read {language}", language=language.name))
        await interaction.response.send_message(text.t("; ").join(parts), ephemeral=True)
        await self.start_guild(guild)
        self.bot.dispatch("voice_ready", None)  # the listening cog syncs the listener role
        self.bot.dispatch("guild_settings_changed", guild.id)  # the daily verse follows

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await answer_command_error(interaction, error)
