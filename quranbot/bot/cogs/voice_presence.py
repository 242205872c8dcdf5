"""Join the configured voice channels and keep an audio file playing there.

A first, simple stand-in for the player: it plays one file (looping with discord.py's `after` callback).
The gapless, resumable player replaces it; this cog stays small on purpose.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import discord
from discord.ext import commands

log = logging.getLogger(__name__)


class VoicePresenceCog(commands.Cog):
    def __init__(
        self, bot: commands.Bot, channel_ids: tuple[int, ...], audio_file: Path | None, loop: bool
    ) -> None:
        self.bot = bot
        self.channel_ids = channel_ids
        self.audio_file = audio_file
        self.loop = loop

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        for channel_id in self.channel_ids:
            channel = guild.get_channel(channel_id)
            if isinstance(channel, discord.VoiceChannel) and guild.voice_client is None:
                await self.join_and_play(channel)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        for channel_id in self.channel_ids:
            if self.bot.get_channel(channel_id) is None:
                log.error(
                    "Voice channel %s is not visible to the bot: check the id and the bot's server",
                    channel_id,
                )

    async def join_and_play(self, channel: discord.VoiceChannel) -> None:
        log.info("Joining voice channel #%s in %s", channel.name, channel.guild.name)
        try:
            voice: discord.VoiceClient = await channel.connect(self_deaf=True)
        except (TimeoutError, discord.ClientException) as exc:
            log.error("Could not join #%s: %s", channel.name, exc)
            return
        self.bot.dispatch("voice_ready", voice)
        if self.audio_file is not None:
            await self._play(voice, self.audio_file)

    async def _play(self, voice: discord.VoiceClient, path: Path) -> None:
        source = await discord.FFmpegOpusAudio.from_probe(str(path))
        loop = asyncio.get_running_loop()

        def finished(error: Exception | None) -> None:
            if error is not None:
                log.error("Playback of %s failed: %s", path.name, error)
            if self.loop and voice.is_connected():
                asyncio.run_coroutine_threadsafe(self._play(voice, path), loop)

        voice.play(source, after=finished)
        log.info("Playing %s in #%s", path.name, voice.channel.name)
