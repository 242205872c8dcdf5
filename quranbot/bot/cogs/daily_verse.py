"""The daily verse's place among the cogs: start its schedule with the bot, follow /setup's changes.

Where and when are set with `/setup daily_verse_channel daily_verse_time` (RecitationCog, which
dispatches `guild_settings_changed`) or config.toml; the work is in quranbot/bot/daily_verse.py.
"""

from __future__ import annotations

from discord.ext import commands

from quranbot.bot.daily_verse import DailyVerses


class DailyVerseCog(commands.Cog, name="DailyVerseCog"):
    def __init__(self, verses: DailyVerses) -> None:
        self.verses = verses

    async def cog_load(self) -> None:
        await self.verses.start()

    async def cog_unload(self) -> None:
        self.verses.stop()

    @commands.Cog.listener()
    async def on_guild_settings_changed(self, guild_id: int) -> None:
        self.verses.changed(guild_id)
