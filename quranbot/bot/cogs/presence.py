"""The bot's presence: "Listening to Surah Al-Kahf · <reciter>", kept to Discord's update limits."""

from __future__ import annotations

import asyncio
import time

import discord
from discord.ext import commands

from quranbot.audio.player import PlayerEvent
from quranbot.bot.guild_player import GuildPlayer
from quranbot.quran.metadata import load_metadata

#: Discord allows about 5 presence updates a minute; one every 15 s leaves room.
MIN_INTERVAL = 15.0


class PresenceCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self._shown: str | None = None
        self._wanted: str | None = None
        self._last = 0.0
        self._pending: asyncio.Task[None] | None = None

    @staticmethod
    def text_for(guild_player: GuildPlayer) -> str:
        now = guild_player.now_playing()
        surah = load_metadata().surah(now.surah)
        reciter = f" · {now.reciter_name}" if now.reciter_name else ""
        return f"Surah {surah.name}{reciter}"[:128]

    @commands.Cog.listener()
    async def on_quran_event(self, guild_player: GuildPlayer, event: PlayerEvent) -> None:
        if event.kind not in ("started", "track_changed", "command"):
            return
        self._wanted = self.text_for(guild_player)
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._update())

    async def _update(self) -> None:
        wait = self._last + MIN_INTERVAL - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # later changes in the meantime are folded into one update
        if self._wanted is None or self._wanted == self._shown:
            return
        text = self._wanted
        await self.bot.change_presence(
            activity=discord.Activity(type=discord.ActivityType.listening, name=text)
        )
        self._shown, self._last = text, time.monotonic()
