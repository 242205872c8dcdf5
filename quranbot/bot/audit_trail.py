"""Discord's side of the audit trail: what members do (slash commands, panel controls) as AuditRecords.

Slash commands are recorded in one place, from discord.py's own hooks (`AuditCog`): completion, and
the tree's error handler for refusals (cooldown, permission, check) and failures. A command that says
no by itself (a member without the controller role, a surah that does not exist) marks the interaction
with `refuse()` first, so its completion is recorded as refused, with the reason. Buttons, menus and
modals have no completion hook: a control calls `report_action()` once it has acted (or refused).
What the bot does by itself (the watchdog, the schedules) is `report_bot_action()`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

import discord
from discord import app_commands

from quranbot.audit.record import BOT_ACTOR, AuditRecord, Result, Source

#: The keys in `Interaction.extras` that hold why the interaction was refused, or why it failed.
REFUSED, FAILED = "quranbot.audit.refused", "quranbot.audit.failed"
#: The event a control dispatches (`on_control_action`), and the one for the bot's own actions.
CONTROL_EVENT, BOT_EVENT = "control_action", "bot_action"


def refuse(interaction: discord.Interaction, reason: str) -> None:
    """Mark the interaction as refused (and why), for the record written when it completes."""
    interaction.extras[REFUSED] = reason


def failed(interaction: discord.Interaction, reason: str) -> None:
    """Mark the interaction as failed (a bug: the member was told something went wrong)."""
    interaction.extras[FAILED] = reason


def report_action(interaction: discord.Interaction, action: str, **args: object) -> None:
    """A button, menu or modal has acted on `interaction` (or refused it, see `refuse`): record it."""
    interaction.client.dispatch(CONTROL_EVENT, interaction, action, args)


@contextlib.asynccontextmanager
async def reported(interaction: discord.Interaction, action: str, **args: object) -> AsyncIterator[None]:
    """`report_action` once the block has run: ok, refused (as marked) or failed (it raised)."""
    try:
        yield
    except Exception as exc:
        failed(interaction, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        report_action(interaction, action, **args)


def report_bot_action(
    client: discord.Client,
    action: str,
    *,
    guild_id: int | None = None,
    channel_id: int | None = None,
    result: Result = "ok",
    reason: str = "",
    **args: object,
) -> None:
    """Something the bot did by itself (a recovery, a scheduled post): record it, as actor "bot"."""
    record = AuditRecord.create(
        "bot", BOT_ACTOR, action, result=result, reason=reason, guild_id=guild_id,
        channel_id=channel_id, args=args,
    )  # fmt: skip
    client.dispatch(BOT_EVENT, record)


def command_args(interaction: discord.Interaction) -> dict[str, object]:
    """A slash command's options as given: ids for members, channels and roles (with their names)."""
    args: dict[str, object] = {}
    for name, value in interaction.namespace:
        if isinstance(getattr(value, "id", None), int):
            label = getattr(value, "name", None)
            args[name] = f"{label} ({value.id})" if label else str(value.id)
        else:
            args[name] = value
    return args


def reason_of(error: app_commands.AppCommandError) -> tuple[Result, str]:
    """How a command's error is recorded: a refusal with its reason, or an error with its type."""
    if isinstance(error, app_commands.CommandOnCooldown):
        return "refused", f"cooldown: {error.retry_after:.0f} s left"
    if isinstance(error, app_commands.MissingPermissions):
        return "refused", "no permission: needs " + ", ".join(error.missing_permissions)
    if isinstance(error, app_commands.CheckFailure):
        return "refused", f"not allowed: {error}" if str(error) else "not allowed"
    cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    return "error", f"{type(cause).__name__}: {cause}"


def interaction_record(
    interaction: discord.Interaction,
    source: Source,
    action: str,
    args: Mapping[str, object],
    result: Result | None = None,
    reason: str = "",
) -> AuditRecord:
    """The record of a member's interaction: `result` if given, else as `failed()` or `refuse()` marked
    it, else ok."""
    refused, failure = interaction.extras.get(REFUSED), interaction.extras.get(FAILED)
    if result is None:
        result = "error" if failure is not None else "refused" if refused is not None else "ok"
        reason = reason or failure or refused or ""
    user = interaction.user
    return AuditRecord.create(
        source,
        getattr(user, "display_name", None) or user.name,
        action,
        result=result,
        reason=reason,
        actor_id=user.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        args=args,
    )


def component_name(interaction: discord.Interaction) -> str:
    """`quranbot:panel:pause` → `panel.pause`; a modal's per-opening suffix (`:<id>`) left off."""
    data: dict[str, object] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    parts = [p for p in custom_id.removeprefix("quranbot:").split(":") if p and not p.isdecimal()]
    return ".".join(parts[:2]) or "component"
