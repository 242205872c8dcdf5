"""`quranbot play|pause|resume|next|previous`: steer the running bot from the server's terminal.

Each goes through the control socket's `control` method, so the change is logged and shown on the
Discord panel as made by "LOGIN (terminal)", exactly like a slash command.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from quranbot.cli.bot_socket import call_bot, socket_for_guild
from quranbot.cli.context import cli_context
from quranbot.cli.output import out
from quranbot.clock import clock

GuildOption = Annotated[
    str | None, typer.Option(help="Guild id or name (needed only when the bot plays in several).")
]


def _control(ctx: typer.Context, action: str, guild: str | None, **params: Any) -> None:
    if guild is not None:
        params["guild"] = guild
    result = call_bot(socket_for_guild(cli_context(ctx).paths, guild), "control", action=action, **params)
    out.print(now_line(result), highlight=False)


def now_line(guild: dict[str, Any]) -> str:
    what = guild["last_action"]["what"] if guild.get("last_action") else guild["state"]
    ayah = f":{guild['ayah']}" if guild.get("ayah") else ""
    return (
        f"{escape(what)}. Now {guild['state']}: {guild['surah']}{ayah}. {escape(guild['surah_name'])} "
        f"({escape(guild['surah_english'])}), {clock(guild['position'])} / {clock(guild['duration'])}, "
        f"{escape(guild.get('reciter_name') or guild.get('reciter') or 'no reciter')}"
    )


def play_command(
    ctx: typer.Context,
    surah: Annotated[int, typer.Argument(min=1, max=114, help="Surah number, 1–114.")],
    ayah: Annotated[int | None, typer.Option(min=1, help="Start at this ayah (per-ayah reciters).")] = None,
    reciter: Annotated[str | None, typer.Option(help="Switch to this reciter (slug or name).")] = None,
    guild: GuildOption = None,
) -> None:
    """Recite a surah from its beginning (or from an ayah)."""
    _control(ctx, "play", guild, surah=surah, ayah=ayah, reciter=reciter)


def pause_command(ctx: typer.Context, guild: GuildOption = None) -> None:
    """Pause the recitation."""
    _control(ctx, "pause", guild)


def resume_command(ctx: typer.Context, guild: GuildOption = None) -> None:
    """Resume the recitation."""
    _control(ctx, "resume", guild)


def next_command(ctx: typer.Context, guild: GuildOption = None) -> None:
    """Skip to the next surah."""
    _control(ctx, "next", guild)


def previous_command(ctx: typer.Context, guild: GuildOption = None) -> None:
    """Back to the previous surah (or the start of this one)."""
    _control(ctx, "previous", guild)
