"""The discord.py bot: intents, cogs and command sync. Everything else lives in the cogs."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord.ext import commands

from quranbot.bot.cogs.listening import ListeningCog
from quranbot.bot.cogs.ping import PingCog
from quranbot.bot.cogs.voice_presence import VoicePresenceCog
from quranbot.bot.settings import BotSettings
from quranbot.store.state import StateStore

log = logging.getLogger(__name__)


def bot_intents() -> discord.Intents:
    """Guilds and voice states only: no privileged intents, so no extra approval on Discord."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.voice_states = True
    return intents


class QuranBot(commands.Bot):
    def __init__(self, settings: BotSettings, store: StateStore, **options: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned, intents=bot_intents(), help_command=None, **options
        )
        self.settings = settings
        self.store = store

    async def setup_hook(self) -> None:
        await self.add_cog(PingCog(self))
        await self.add_cog(ListeningCog(self, self.store))
        await self.add_cog(
            VoicePresenceCog(self, self.settings.voice_channels, self.settings.audio_file, self.settings.loop)
        )
        synced = await self.tree.sync()
        log.info("Synced %d slash command(s): %s", len(synced), ", ".join(f"/{c.name}" for c in synced))

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("Logged in as %s (id %s) in %d server(s)", self.user, self.user.id, len(self.guilds))
