"""The audit trail's listener in the bot: every slash command, panel control and action of the bot's own
is written to the AuditLog (quranbot/audit/), refusals included. See quranbot/bot/audit_trail.py."""

from __future__ import annotations

from collections.abc import Mapping

import discord
from discord import app_commands
from discord.ext import commands

from quranbot.audit.record import AuditRecord
from quranbot.audit.writer import AuditLog
from quranbot.bot.audit_trail import command_args, interaction_record, reason_of


class AuditCog(commands.Cog):
    def __init__(self, bot: commands.Bot, audit: AuditLog) -> None:
        self.bot = bot
        self.audit = audit
        self._tree_on_error = bot.tree.on_error

    async def cog_load(self) -> None:
        self.bot.tree.error(self.on_tree_error)

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = self._tree_on_error  # type: ignore[method-assign]

    @commands.Cog.listener()
    async def on_app_command_completion(self, interaction: discord.Interaction, command: object) -> None:
        name = getattr(command, "qualified_name", None) or "?"
        self.audit.record(interaction_record(interaction, "discord", name, command_args(interaction)))

    async def on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Every command error, after the cog's own handler answered the member; then discord.py's."""
        if interaction.type is discord.InteractionType.application_command:
            command = interaction.command
            name = command.qualified_name if command is not None else "?"
            result, reason = reason_of(error)
            self.audit.record(
                interaction_record(interaction, "discord", name, command_args(interaction), result, reason)
            )
        await self._tree_on_error(interaction, error)  # type: ignore[arg-type]

    @commands.Cog.listener()
    async def on_control_action(
        self, interaction: discord.Interaction, action: str, args: Mapping[str, object]
    ) -> None:
        self.audit.record(interaction_record(interaction, "panel", action, args))

    @commands.Cog.listener()
    async def on_bot_action(self, record: AuditRecord) -> None:
        self.audit.record(record)
