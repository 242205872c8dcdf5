"""`quranbot verse post-now`: the daily verse, posted at once by the running bot (over its socket).

The bot owns the daily verse's memory (which ayahs a guild has had), so this asks the bot rather than
touching the files: one writer per file.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from quranbot.cli.bot_socket import call_bot, socket_for_guild
from quranbot.cli.context import cli_context
from quranbot.cli.output import out

verse_app = typer.Typer(help="The daily verse: post the next one now.")


@verse_app.command("post-now")
def post_now_command(
    ctx: typer.Context,
    guild: Annotated[
        str | None,
        typer.Option("--guild", help="The server (id or name); needed when several have a daily verse."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Post the next daily verse now in the server's daily verse channel (the scheduled one still comes
    at its time). Exit status 3 when the bot is not running."""
    params = {} if guild is None else {"guild": guild}
    posted = call_bot(socket_for_guild(cli_context(ctx).paths, guild), "verse.post", **params)
    if as_json:
        typer.echo(json.dumps(posted))
        return
    out.print(
        f"Posted {posted['ref']} in channel {posted['channel_id']} (server {posted['guild_id']}), "
        f"message {posted['message_id']}",
        highlight=False,
    )
