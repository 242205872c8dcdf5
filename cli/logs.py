"""`quranbot logs`: the bot's recent log lines from its own memory, over the control socket.

For a service the journal holds everything (`quranbot service logs`); this works for any running bot,
also one started by hand, and needs no journal access.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from typing import Annotated, Any

import typer
from rich.markup import escape

from quranbot.cli.bot_socket import with_bot
from quranbot.cli.context import cli_context
from quranbot.cli.output import out
from quranbot.control.client import BotNotRunning, ControlClient

LEVEL_STYLE = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


def format_line(line: dict[str, Any]) -> str:
    moment = datetime.datetime.fromtimestamp(line["time"]).strftime("%H:%M:%S")
    style = LEVEL_STYLE.get(line["level"], "")
    level = f"[{style}]{line['level']:<8}[/]" if style else f"{line['level']:<8}"
    return f"[dim]{moment}[/] {level} {escape(line['message'])}"


def logs_command(
    ctx: typer.Context,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, max=2000, help="How many recent lines.")] = 50,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl+C.")
    ] = False,
    level: Annotated[
        str, typer.Option(help="Only this level and above: DEBUG, INFO, WARNING, ERROR.")
    ] = "DEBUG",
) -> None:
    """Show the bot's recent log lines (secrets are already masked)."""
    wanted = logging.getLevelName(level.upper())
    if not isinstance(wanted, int):
        raise typer.BadParameter(f"{level!r} is not a level: DEBUG, INFO, WARNING, ERROR or CRITICAL")

    async def show(client: ControlClient) -> None:
        recent = (await client.call("logs", limit=lines, level=level.upper()))["lines"]
        for line in recent:
            out.print(format_line(line), highlight=False, soft_wrap=True)
        if follow:
            await follow_lines(client, wanted, recent)

    with contextlib.suppress(KeyboardInterrupt):
        with_bot(cli_context(ctx).paths.control_socket, show)


async def follow_lines(client: ControlClient, wanted: int, shown: list[dict[str, Any]]) -> None:
    """Print new lines as the bot logs them, until Ctrl+C or the bot stops.

    The subscription starts with a snapshot of recent lines; those already shown are skipped.
    """
    seen = {(line["time"], line["message"]) for line in shown}
    newest = max((line["time"] for line in shown), default=0.0)
    await client.subscribe("logs")
    while True:
        getting = asyncio.ensure_future(client.events.get())
        closing = asyncio.ensure_future(client.closed.wait())
        done, _ = await asyncio.wait({getting, closing}, return_when=asyncio.FIRST_COMPLETED)
        if getting not in done:
            getting.cancel()
            raise BotNotRunning("QuranBot stopped")
        closing.cancel()
        name, data = getting.result()
        if name == "dropped":
            out.print(f"[yellow]… {data['count']} lines skipped (this terminal read too slowly)[/]")
        elif name == "logs" and logging.getLevelName(data["level"]) >= wanted:
            if data["time"] < newest or (data["time"], data["message"]) in seen:
                continue
            out.print(format_line(data), highlight=False, soft_wrap=True)
