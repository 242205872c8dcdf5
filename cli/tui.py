"""`quranbot tui`: the live terminal view of the running bot, over its control socket."""

from __future__ import annotations

import typer

from quranbot.cli.context import cli_context


def tui_command(ctx: typer.Context) -> None:
    """Watch and steer the running bot: now playing, listeners, logs and stats, live.

    It may start before the bot: it waits, and reconnects by itself when the bot restarts.
    """
    from quranbot.tui.app import run_tui  # Textual loads only for this command

    run_tui(cli_context(ctx).paths.control_socket)
