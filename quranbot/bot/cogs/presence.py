"""The bot's presence: "Listening to Surah Al-Kahf · <reciter>", kept to Discord's update limits.

The presence is one line for every server the bot is in, so it cannot follow a server's language: it is
said in English, through the catalog like every other message members read.

One update task at a time, owned here: the cog cancels and awaits it when it is unloaded (discord.py
unloads every cog at the start of `Bot.close()`), so no update is left writing to a gateway that is
closing, and none ends with an exception nobody retrieves.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import discord
from discord.ext import commands

from quranbot.audio.player import PlayerEvent
from quranbot.bot.guild_player import GuildPlayer
from quranbot.i18n.catalog import Messages
from quranbot.i18n.surah_names import surah_name

log = logging.getLogger(__name__)

#: Discord allows about 5 presence updates a minute; one every 15 s leaves room.
MIN_INTERVAL = 15.0


class PresenceCog(commands.Cog):
    def __init__(self, bot: commands.Bot, text: Messages) -> None:
        self.bot = bot
        self.text = text
        self._shown: str | None = None
        self._wanted: str | None = None
        self._last = 0.0
        self._pending: asyncio.Task[None] | None = None
        self._closing = False

    async def cog_unload(self) -> None:
        self._closing = True
        task, self._pending = self._pending, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})  # unlike `await task`, never swallows our own cancellation

    def text_for(self, guild_player: GuildPlayer) -> str:
        now = guild_player.now_playing()
        line = self.text.t("Surah {name}", name=surah_name(now.surah, self.text.language))
        reciter = f" · {now.reciter_name}" if now.reciter_name else ""
        return f"{line}{reciter}"[:128]

    @commands.Cog.listener()
    async def on_quran_event(self, guild_player: GuildPlayer, event: PlayerEvent) -> None:
        if event.kind not in ("started", "track_changed", "command") or self._closing:
            return
        self._wanted = self.text_for(guild_player)
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._update(), name="presence update")
            self._pending.add_done_callback(_report_failure)

    async def _update(self) -> None:
        wait = self._last + MIN_INTERVAL - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # later changes in the meantime are folded into one update
        if self._wanted is None or self._wanted == self._shown:
            return
        ws = self.bot.ws  # None before the first connection (discord.py types it as always set)
        if self.bot.is_closed() or not ws or not ws.open:
            return  # stopping, or (re)connecting: there is no gateway to tell now
        text = self._wanted
        try:
            await self.bot.change_presence(
                activity=discord.Activity(type=discord.ActivityType.listening, name=text)
            )
        except (ConnectionError, aiohttp.ClientConnectionError, discord.ConnectionClosed) as exc:
            # The gateway is closing or reconnecting; the next surah's update tries again.
            log.debug("Presence not updated (the gateway connection is closing): %r", exc)
            return
        self._shown, self._last = text, time.monotonic()


def _report_failure(task: asyncio.Task[None]) -> None:
    """Retrieve the update's outcome: a failure is logged once, never "Task exception was never retrieved"."""
    if not task.cancelled() and task.exception() is not None:
        log.error("Updating the bot's presence failed", exc_info=task.exception())
