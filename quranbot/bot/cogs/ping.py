"""`/ping`: the smallest proof that the bot is logged in and answering commands."""

from __future__ import annotations

import math

import discord
from discord import app_commands
from discord.ext import commands

from quranbot.bot.localizer import replies


class PingCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @app_commands.command(name="ping", description="Check that QuranBot is online and how fast it answers.")
    async def ping(self, interaction: discord.Interaction) -> None:
        latency = self.bot.latency
        text = replies(interaction)
        if math.isinf(latency) or math.isnan(latency):
            shown = text.t("unknown")
        else:
            shown = text.t("{milliseconds} ms", milliseconds=f"{latency * 1000:.0f}")
        await interaction.response.send_message(
            text.t("Pong! Gateway latency: {latency}.", latency=shown), ephemeral=True
        )
