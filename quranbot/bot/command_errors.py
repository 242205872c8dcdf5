"""How a refused or failed slash command is told to the member: privately, in one sentence.

A refusal (a cooldown, a missing permission, a failed check) says why; anything else is a bug: logged
with its traceback for the admin, and the member is told only that something went wrong.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from quranbot.bot.localizer import replies
from quranbot.i18n.catalog import N_, Messages

log = logging.getLogger(__name__)

SOMETHING_WENT_WRONG = N_("Something went wrong; the admin can see the details in the log.")


def refusal(error: app_commands.AppCommandError, text: Messages) -> str | None:
    """What to tell a member whose command was refused; None when the error is a bug. A CheckFailure
    raised by our own checks carries its sentence already in the member's language."""
    if isinstance(error, app_commands.CommandOnCooldown):
        return text.t("Slow down: try again in {seconds} s.", seconds=f"{error.retry_after:.0f}")
    if isinstance(error, app_commands.MissingPermissions):
        return text.t("You need the Manage Server permission for that.")
    if isinstance(error, app_commands.NoPrivateMessage):
        return text.t("This command cannot be used in private messages.")
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or text.t("You may not do that here.")
    return None


async def tell_privately(interaction: discord.Interaction, message: str) -> None:
    """An ephemeral answer, whether or not the interaction was answered (or deferred) already."""
    if interaction.response.is_done():
        await interaction.followup.send(message, ephemeral=True)
    else:
        await interaction.response.send_message(message, ephemeral=True)


async def answer_command_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    """The cogs' `cog_app_command_error`: the refusal's reason, or the bug logged."""
    text = replies(interaction)
    message = refusal(error, text)
    if message is None:
        name = interaction.command.qualified_name if interaction.command else "?"
        log.error("Command /%s failed", name, exc_info=error)
        message = text.t(SOMETHING_WENT_WRONG)
    await tell_privately(interaction, message)
