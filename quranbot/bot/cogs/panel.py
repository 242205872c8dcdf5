"""The control panel: one message per guild, in its panel channel, that shows what is recited and steers it.

Where and when the panel is shown lives here; what it looks like lives in `quranbot/bot/panel_view.py`.
The message id is saved (GuildSettings.panel_message_id), so after a restart the bot edits the same
message, and its buttons keep working because the view is registered with fixed custom_ids before
login. A deleted panel is posted again at the next update. `/panel` posts (or moves) it.

Edits are throttled per guild, see `PanelUpdater`: Discord rate-limits message edits per channel, and
a panel that followed every press (or every 1.5 s sample surah) would spend its days in 429s.
Presses answer with a deferred update, so the updater is the panel's only writer and the order of
edits is never in doubt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands, tasks

from quranbot.audio.player import NowPlaying, Player, PlayerError, PlayerEvent, PlayerState
from quranbot.bot.audit_trail import component_name, failed, refuse, report_action
from quranbot.bot.cogs.recitation import RecitationCog
from quranbot.bot.command_errors import answer_command_error, tell_privately
from quranbot.bot.guild_player import GuildPlayer
from quranbot.bot.localizer import Localizer, replies
from quranbot.bot.panel_view import PanelState, PanelView, SurahPickView, panel_embed
from quranbot.i18n.bidi import Verbatim
from quranbot.i18n.catalog import Phrase
from quranbot.i18n.surah_names import SurahLabel
from quranbot.quran.lookup import search_surahs
from quranbot.store.state import StateStore

log = logging.getLogger(__name__)

#: At most one panel edit per guild this often (seconds).
MIN_EDIT_INTERVAL = 5.0
#: While reciting, the progress bar is redrawn this often even when nothing else happens.
PROGRESS_INTERVAL = 15.0
#: The longest wait between attempts when Discord keeps failing (5xx, connection errors).
MAX_BACKOFF = 60.0
#: Channels a panel can live in.
PanelChannel = discord.TextChannel | discord.VoiceChannel | discord.Thread
#: Player events that change what the panel shows (progress is the timer's job).
SHOWN_EVENTS = frozenset({"started", "track_changed", "command", "paused", "resumed", "skipped"})


def retry_after(error: discord.HTTPException, default: float) -> float:
    """Seconds a 429 asks us to wait (the Retry-After header; the JSON body is not kept by discord.py)."""
    try:
        return max(0.0, float(error.response.headers.get("Retry-After", default)))
    except (TypeError, ValueError):
        return default


class PanelUpdater:
    """One guild's panel message, kept current without flooding Discord.

    `request()` only counts; one task per guild edits. It waits until MIN_EDIT_INTERVAL has passed
    since the last edit, draws the state as it is *then*, and edits. Requests that arrive meanwhile
    fold into that edit, or into one more after it: however fast they come, the last state is the one
    left on screen. A 429 (discord.py sleeps and retries a 429 itself, up to five tries, then raises
    HTTPException(429); with `max_ratelimit_timeout` it raises RateLimited instead) waits as long as
    Discord asks and tries again with the newest state; 5xx and connection errors back off
    exponentially. A panel message that is gone (NotFound) is posted anew and its id saved.
    """

    def __init__(self, cog: PanelCog, guild_id: int, min_interval: float = MIN_EDIT_INTERVAL) -> None:
        self.cog = cog
        self.guild_id = guild_id
        self.min_interval = min_interval
        self._wanted = 0
        self._shown = 0
        self._not_before = 0.0
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        #: What the message shows now (message id, embed, components), to skip edits that change nothing.
        self._payload: tuple[int, object, object] | None = None
        #: The surah, ayah (per-ayah audio only) and reciter last drawn, so a loop restarting the same
        #: surah, or the next file of a surah, does not cost an edit, but the next ayah shown does.
        self.drawn: tuple[int, int | None, str | None] | None = None
        self._warned_channel: int | None = None
        self._closed = False

    def request(self) -> None:
        if self._closed:
            return
        self._wanted += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"panel updater {self.guild_id}")

    async def close(self) -> None:
        """Stop editing (at shutdown) and wait until the edit in flight has ended, so none is left
        running against a closing HTTP session."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})  # unlike `await task`, never swallows our own cancellation

    async def _run(self) -> None:
        backoff = 1.0
        while self._shown < self._wanted:
            delay = self._not_before - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            version = self._wanted
            wait: float | None = None
            try:
                async with self._lock:
                    edited = await self._publish()
            except discord.RateLimited as exc:
                wait = exc.retry_after
            except discord.HTTPException as exc:
                if exc.status == 429:  # discord.py's own retries are spent: wait longer each time
                    wait = max(retry_after(exc, backoff), backoff)
                elif exc.status >= 500:
                    wait = backoff
                else:  # 400/403/404 of the channel: retrying cannot help; the next change tries again
                    log.warning("Cannot update the control panel in guild %s: %s", self.guild_id, exc)
                    self._shown = version
                    continue
            except (OSError, aiohttp.ClientError) as exc:
                log.warning("Cannot reach Discord to update the control panel: %s", exc)
                wait = backoff
            except Exception:
                log.exception("Updating the control panel of guild %s failed", self.guild_id)
                self._shown = version
                continue
            if wait is not None:
                log.info(
                    "Panel update in guild %s postponed %.1f s; it will show the latest state",
                    self.guild_id,
                    wait,
                )
                backoff = min(MAX_BACKOFF, backoff * 2)
                self._not_before = time.monotonic() + wait
                continue
            backoff = 1.0
            self._shown = version
            if edited:
                self._not_before = time.monotonic() + self.min_interval

    def _draw(self) -> tuple[discord.Embed, PanelView] | None:
        state = self.cog.state(self.guild_id)
        if state is None:
            return None
        if state.now is not None:
            self.drawn = (state.now.surah, state.now.ayah, state.now.reciter)
        text = self.cog.localizer.for_guild(self.cog.bot.get_guild(self.guild_id) or self.guild_id)
        return panel_embed(state, text), PanelView(self.cog, state, text)

    async def _publish(self) -> bool:
        """Show the current state; True if Discord was asked to change the message."""
        settings = self.cog.store.settings(self.guild_id)
        if settings.panel_channel_id is None:
            return False
        channel = self.cog.panel_channel(self.guild_id, settings.panel_channel_id)
        if channel is None:
            if self._warned_channel != settings.panel_channel_id:
                self._warned_channel = settings.panel_channel_id
                log.warning(
                    "The panel channel %s of guild %s is gone: run /panel in another channel",
                    settings.panel_channel_id,
                    self.guild_id,
                )
            return False
        drawn = self._draw()
        if drawn is None:
            return False
        embed, view = drawn
        if settings.panel_message_id is not None:
            payload = (settings.panel_message_id, embed.to_dict(), view.to_components())
            if payload == self._payload:
                return False
            try:
                await channel.get_partial_message(settings.panel_message_id).edit(embed=embed, view=view)
            except discord.NotFound:
                log.info("The control panel in #%s was deleted; posting a new one", channel.name)
            else:
                self._payload = payload
                return True
        await self._post(channel, embed, view)
        return True

    async def _post(self, channel: PanelChannel, embed: discord.Embed, view: PanelView) -> discord.Message:
        message = await channel.send(embed=embed, view=view)
        saved = self.cog.store.saved_settings(self.guild_id)  # not config.toml's values, only these two
        self.cog.store.save_settings(replace(saved, panel_channel_id=channel.id, panel_message_id=message.id))
        self._payload = (message.id, embed.to_dict(), view.to_components())
        return message

    async def repost(self, channel: PanelChannel) -> discord.Message:
        """Post the panel in `channel` (`/panel`), save where it is, and remove the previous one."""
        async with self._lock:
            previous = self.cog.store.settings(self.guild_id)
            state = self.cog.state(self.guild_id) or PanelState(now=None)
            text = self.cog.localizer.for_guild(self.cog.bot.get_guild(self.guild_id) or self.guild_id)
            message = await self._post(channel, panel_embed(state, text), PanelView(self.cog, state, text))
            self._not_before = time.monotonic() + self.min_interval
        if previous.panel_message_id and previous.panel_channel_id:
            old = self.cog.panel_channel(self.guild_id, previous.panel_channel_id)
            if old is not None and previous.panel_message_id != message.id:
                try:
                    await old.get_partial_message(previous.panel_message_id).delete()
                except discord.HTTPException as exc:  # already gone, or not ours to delete
                    log.info("Could not remove the previous control panel: %s", exc)
        return message


class PanelCog(commands.Cog):
    def __init__(self, bot: commands.Bot, store: StateStore, localizer: Localizer) -> None:
        self.bot = bot
        self.store = store
        #: The panel is drawn in the server's language; answers to a member in theirs.
        self.localizer = localizer
        self._updaters: dict[int, PanelUpdater] = {}

    async def cog_load(self) -> None:
        # Before login, so presses on a panel posted by an earlier run are answered from the start.
        self.bot.add_view(PanelView(self))
        self.bot.add_view(SurahPickView(self))
        self.progress.start()

    async def cog_unload(self) -> None:
        progress = self.progress.get_task()
        self.progress.cancel()
        if progress is not None:
            await asyncio.wait({progress})
        await asyncio.gather(*(updater.close() for updater in self._updaters.values()))

    # -- reading the guild ----------------------------------------------------------------------------
    @property
    def recitation(self) -> RecitationCog | None:
        cog = self.bot.get_cog("RecitationCog")
        return cog if isinstance(cog, RecitationCog) else None

    def guild_player(self, guild_id: int | None) -> GuildPlayer | None:
        recitation = self.recitation
        return recitation.players.get(guild_id or 0) if recitation is not None else None

    def state(self, guild_id: int) -> PanelState | None:
        """What the panel should show now; None while the recitation cog is not loaded (at shutdown)."""
        recitation = self.recitation
        if recitation is None:
            return None
        guild_player = recitation.players.get(guild_id)
        if guild_player is None:
            return PanelState(now=None)
        return PanelState(
            now=guild_player.now_playing(),
            listeners=len(guild_player.listeners()),
            last_action=guild_player.last_action,
            reciters=tuple(recitation.library.reciters()),
        )

    def panel_channel(self, guild_id: int, channel_id: int) -> PanelChannel | None:
        guild = self.bot.get_guild(guild_id)
        channel = guild.get_channel_or_thread(channel_id) if guild is not None else None
        return channel if isinstance(channel, PanelChannel) else None

    def updater(self, guild_id: int) -> PanelUpdater:
        updater = self._updaters.get(guild_id)
        if updater is None:
            updater = self._updaters[guild_id] = PanelUpdater(self, guild_id)
        return updater

    # -- what the controls do (PanelActions) -----------------------------------------------------------
    async def check(self, interaction: discord.Interaction) -> bool:
        recitation = self.recitation
        if recitation is not None and recitation.may_steer(interaction):
            return True
        role_id = (
            self.store.settings(interaction.guild_id).controller_role_id if interaction.guild_id else None
        )
        text = replies(interaction)
        if role_id is not None:
            english = (
                f"Only members with the <@&{role_id}> role (or the Manage Server permission) "
                "can steer the recitation"
            )
            message = text.t(
                "Only members with the {role} role (or the Manage Server permission) "
                "can steer the recitation.",
                role=f"<@&{role_id}>",
            )
        else:
            english = "Only members of this server can steer the recitation"
            message = text.t("Only members of this server can steer the recitation.")
        refuse(interaction, "not allowed: " + english)
        if interaction.type is not discord.InteractionType.application_command:  # /panel: its own record
            report_action(interaction, component_name(interaction))
        await interaction.response.send_message(message, ephemeral=True)
        return False

    def now_playing(self, guild_id: int | None) -> NowPlaying | None:
        guild_player = self.guild_player(guild_id)
        return guild_player.now_playing() if guild_player is not None else None

    async def steer(
        self,
        interaction: discord.Interaction,
        what: Phrase,
        command: Callable[[Player], None],
        *,
        confirm: bool = False,
    ) -> None:
        """Run the command; answer with a deferred update (the panel's next edit shows the result), or,
        with `confirm`, by editing the message the control is on (the ephemeral surah menu)."""
        guild_player = self.guild_player(interaction.guild_id)
        action = component_name(interaction)
        if guild_player is None:
            refuse(interaction, "not reciting here yet")
            report_action(interaction, action, what=str(what))
            await interaction.response.send_message(
                replies(interaction).t("QuranBot is not reciting here yet: an admin can run /setup"),
                ephemeral=True,
            )
            return
        player = guild_player.player
        try:
            guild_player.act(what, interaction.user.display_name, lambda: command(player))
        except PlayerError as exc:
            refuse(interaction, str(exc))
            report_action(interaction, action, what=str(what))
            await interaction.response.send_message(str(exc), ephemeral=True)
            return
        report_action(interaction, action, what=str(what))
        if confirm:
            await interaction.response.edit_message(content=f"{what.said_in(replies(interaction))}.")
        else:
            await interaction.response.defer()

    async def search(self, interaction: discord.Interaction, query: str) -> None:
        matches = search_surahs(query, limit=1) if query.strip() else []
        if not matches:
            refuse(interaction, "bad input: no surah matches")
            report_action(interaction, component_name(interaction), query=query.strip())
            shown = discord.utils.escape_mentions(discord.utils.escape_markdown(query.strip()))
            await interaction.response.send_message(
                replies(interaction).t("No surah matches '{query}'.", query=shown), ephemeral=True
            )
            return
        surah = matches[0]
        await self.steer(
            interaction,
            Phrase.of(
                "Playing {surah}, found by '{query}'", surah=SurahLabel(surah.number), query=query.strip()
            ),
            lambda p: p.play_surah(surah.number),
        )

    # -- when to update -------------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_quran_event(self, guild_player: GuildPlayer, event: PlayerEvent) -> None:
        if event.kind not in SHOWN_EVENTS:
            return
        updater = self.updater(guild_player.guild_id)
        now = event.now
        if event.kind == "track_changed" and updater.drawn == (now.surah, now.ayah, now.reciter):
            return  # the same surah again (loop): the progress timer covers it
        updater.request()

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        """After a (re)start: edit the saved panel, or post it if it is gone. RecitationCog's listener
        runs first (registered first) and has made the guild's player by its first await."""
        if self.store.settings(guild.id).panel_channel_id is not None:
            self.updater(guild.id).request()

    @commands.Cog.listener()
    async def on_guild_settings_changed(self, guild_id: int) -> None:
        """/setup saved: the panel is drawn again (its language may have changed)."""
        if self.store.settings(guild_id).panel_channel_id is not None:
            self.updater(guild_id).request()

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        if member.bot or before.channel == after.channel:
            return
        guild_player = self.guild_player(member.guild.id)
        channels = {c.id for c in (before.channel, after.channel) if c is not None}
        if guild_player is not None and guild_player.channel_id in channels:
            self.updater(member.guild.id).request()  # the listener count changed

    @tasks.loop(seconds=PROGRESS_INTERVAL)
    async def progress(self) -> None:
        recitation = self.recitation
        if recitation is None:
            return
        for guild_id, guild_player in list(recitation.players.items()):
            if guild_player.player.state is PlayerState.PLAYING and guild_id in self._updaters:
                self._updaters[guild_id].request()

    # -- /panel ---------------------------------------------------------------------------------------
    @app_commands.command(name="panel", description="Post the control panel in this channel (it moves here).")
    @app_commands.guild_only()
    @app_commands.checks.cooldown(1, 10.0, key=lambda i: i.guild_id)
    async def panel(self, interaction: discord.Interaction) -> None:
        if not await self.check(interaction):
            return
        channel = interaction.channel
        text = replies(interaction)
        if interaction.guild_id is None or not isinstance(channel, PanelChannel):
            await interaction.response.send_message(
                text.t("The panel can only be posted in a text channel of this server."), ephemeral=True
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            message = await self.updater(interaction.guild_id).repost(channel)
        except discord.HTTPException as exc:
            log.warning("Could not post the control panel in #%s: %s", channel.name, exc)
            failed(interaction, f"Discord refused the post: {exc}")
            await interaction.followup.send(
                text.t("I could not post in {channel}: check my permissions there.", channel=channel.mention),
                ephemeral=True,
            )
            return
        await interaction.followup.send(
            text.t("Control panel posted: {url}", url=Verbatim(message.jump_url)), ephemeral=True
        )

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.CommandOnCooldown):
            await tell_privately(
                interaction,
                replies(interaction).t(
                    "The panel was just posted: try again in {seconds} s.", seconds=f"{error.retry_after:.0f}"
                ),
            )
        else:
            await answer_command_error(interaction, error)
