"""`/language`: the language QuranBot answers a member in, their own choice across servers.

The choice is stored (settings.json, `StateStore.member_language`) and wins over the server's language
and the Discord client's locale; "server" forgets it. Messages everyone sees (the panel, quiz
questions, the daily verse) stay in the server's language (`/setup language`).
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from quranbot.bot.command_errors import answer_command_error
from quranbot.bot.localizer import Localizer
from quranbot.i18n.catalog import Language

#: The value of the choice that forgets the member's own language.
SERVER = "server"
CHOICES = [
    *(app_commands.Choice(name=language.native_name, value=language.value) for language in Language),
    app_commands.Choice(name="This server's language", value=SERVER),
]


class LanguageCog(commands.Cog, name="LanguageCog"):
    def __init__(self, bot: commands.Bot, localizer: Localizer) -> None:
        self.bot = bot
        self.localizer = localizer

    @app_commands.command(name="language", description="The language QuranBot answers you in.")
    @app_commands.describe(language="English, العربية, or this server's language")
    @app_commands.choices(language=CHOICES)
    @app_commands.checks.cooldown(5, 10.0, key=lambda i: i.user.id)
    async def language(self, interaction: discord.Interaction, language: app_commands.Choice[str]) -> None:
        store = self.localizer.store
        store.set_member_language(interaction.user.id, None if language.value == SERVER else language.value)
        text = self.localizer.for_interaction(interaction)
        if language.value == SERVER:
            message = text.t("I answer you in this server's language again.")
        else:
            message = text.t("From now on I answer you in {language}.", language=text.language.native_name)
        await interaction.response.send_message(message, ephemeral=True)

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await answer_command_error(interaction, error)
