"""Listening statistics: how long each member has listened in the bot's voice channel.

Time is accrued exactly (join to leave, in monotonic seconds) into the store's buffered statistics,
on every voice change and on a periodic tick, so a member who stays for hours is counted as they go
and a restart loses at most the store's flush interval.
"""

from __future__ import annotations

import time

import discord
from discord.ext import commands, tasks

from quranbot.store.state import StateStore

TICK_SECONDS = 15.0

Key = tuple[int, int]  # (guild id, user id)


class ListeningCog(commands.Cog):
    def __init__(self, bot: commands.Bot, store: StateStore) -> None:
        self.bot = bot
        self.store = store
        #: Members listening now, and when their time was last accrued (time.monotonic()).
        self._accrued_at: dict[Key, float] = {}
        self.tick.start()

    async def cog_unload(self) -> None:
        self.tick.cancel()
        self.accrue_all()

    @tasks.loop(seconds=TICK_SECONDS)
    async def tick(self) -> None:
        self.refresh()

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        self.refresh()

    @commands.Cog.listener()
    async def on_voice_ready(self, voice: discord.VoiceClient) -> None:
        """Dispatched by RecitationCog once the bot's own voice connection is up."""
        self.refresh()

    def listeners_now(self) -> set[Key]:
        """Everyone but bots in a channel where this bot is connected."""
        present: set[Key] = set()
        bot_id = self.bot.user.id if self.bot.user else None
        for voice in self.bot.voice_clients:
            if not isinstance(voice, discord.VoiceClient) or not voice.is_connected():
                continue
            channel = voice.channel
            if not isinstance(channel, discord.VoiceChannel):
                continue
            for user_id in channel.voice_states:
                member = channel.guild.get_member(user_id)
                if user_id != bot_id and not (member is not None and member.bot):
                    present.add((channel.guild.id, user_id))
        return present

    def refresh(self) -> None:
        """Accrue time for everyone listening, start the clock for newcomers, stop it for leavers."""
        now = time.monotonic()
        wall = time.time()
        present = self.listeners_now()
        for key in list(self._accrued_at):
            self._accrue(key, now, wall)
            if key not in present:
                del self._accrued_at[key]
        for key in present - self._accrued_at.keys():
            self._accrued_at[key] = now
            self.store.add_listening(key[0], key[1], 0.0, now=wall, new_session=True)

    def accrue_all(self) -> None:
        now, wall = time.monotonic(), time.time()
        for key in list(self._accrued_at):
            self._accrue(key, now, wall)

    def _accrue(self, key: Key, now: float, wall: float) -> None:
        seconds = now - self._accrued_at[key]
        if seconds > 0:
            self.store.add_listening(key[0], key[1], seconds, now=wall)
        self._accrued_at[key] = now
