"""How a refused or failed slash command is told to the member: privately, in one sentence.

A refusal (a cooldown, a missing permission, a failed check) says why; anything else is a bug: logged
with its traceback for the admin, and the member is told only that something went wrong.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

log = logging.getLogger(__name__)

SOMETHING_WENT_WRONG = "Something went wrong; the admin can see the details in the log."


def refusal(error: app_commands.AppCommandError) -> str | None:
    """What to tell a member whose command was refused; None when the error is a bug."""
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the Manage Server permission for that."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You may not do that here."
    return None


async def tell_privately(interaction: discord.Interaction, message: str) -> None:
    """An ephemeral answer, whether or not the interaction was answered (or deferred) already."""
    if interaction.response.is_done():
        await interaction.followup.send(message, ephemeral=True)
    else:
        await interaction.response.send_message(message, ephemeral=True)


async def answer_command_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    """The cogs' `cog_app_command_error`: the refusal's reason, or the bug logged."""
    message = refusal(error)
    if message is None:
        name = interaction.command.qualified_name if interaction.command else "?"
        log.error("Command /%s failed", name, exc_info=error)
        message = SOMETHING_WENT_WRONG
    await tell_privately(interaction, message)
