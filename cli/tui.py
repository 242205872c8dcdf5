"""`quranbot tui`: the live terminal view of the running bot, over its control socket."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quranbot.cli.context import cli_context


def tui_command(
    ctx: typer.Context,
    socket: Annotated[
        Path | None, typer.Option(help="The bot's control socket (default: the one under --home, or /run).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="A note for the title bar.", hidden=True)] = None,
) -> None:
    """Watch and steer the running bot: now playing, listeners, logs and stats, live.

    It may start before the bot: it waits, and reconnects by itself when the bot restarts. With shards
    on this machine it watches every one (its guilds as tabs, the stats summed, a shard down shown).
    """
    from quranbot.control.machine import machine_bots
    from quranbot.tui.app import QuranBotApp  # Textual loads only for this command

    paths = cli_context(ctx).paths
    bots = machine_bots(paths) if socket is None else None
    shards = bots.sockets if bots is not None and bots.sharded else ()
    QuranBotApp(socket or paths.control_socket, title_note=title, shards=shards).run()
