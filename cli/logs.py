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

from quranbot.cli.bot_socket import NOT_RUNNING, ask_each, with_bot
from quranbot.cli.context import cli_context
from quranbot.cli.output import err, fail, out
from quranbot.cli.shard_choice import ShardOption, chosen_bots
from quranbot.control.client import BotNotRunning, ControlClient
from quranbot.control.machine import BotSocket

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
    shard: ShardOption = None,
) -> None:
    """Show the bot's recent log lines (secrets are already masked); sharded, every shard's merged by
    time, each line with its shard (or --shard N's alone)."""
    wanted = logging.getLevelName(level.upper())
    if not isinstance(wanted, int):
        raise typer.BadParameter(f"{level!r} is not a level: DEBUG, INFO, WARNING, ERROR or CRITICAL")

    async def show(client: ControlClient) -> None:
        recent = (await client.call("logs", limit=lines, level=level.upper()))["lines"]
        for line in recent:
            out.print(format_line(line), highlight=False, soft_wrap=True)
        if follow:
            await follow_lines(client, wanted, recent)

    bots = chosen_bots(cli_context(ctx).paths, shard)
    with contextlib.suppress(KeyboardInterrupt):
        if len(bots) == 1:  # the unsharded bot, or the one shard --shard names
            with_bot(bots[0].path, show)
        else:
            _shards_logs(bots, lines, level.upper(), wanted, follow)


def _shards_logs(bots: list[BotSocket], lines: int, level: str, wanted: int, follow: bool) -> None:
    """Every shard's recent lines merged by time, each with its shard; then, with --follow, each shard's
    new lines as they come. A shard that is down is said once; none running exits 3."""

    async def recent(client: ControlClient) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = (await client.call("logs", limit=lines, level=level))["lines"]
        return answer

    answers = ask_each(tuple(bots), recent)
    for answer in answers:
        if answer.result is None:
            err.print(f"[yellow]{answer.bot.label}: {escape(answer.error or 'down')}[/]", soft_wrap=True)
    running = [answer for answer in answers if answer.result is not None]
    if not running:
        raise fail(
            "No shard of QuranBot is running here. Start them with `quranbot service start`.", NOT_RUNNING
        )
    merged = sorted(
        ((line, answer.bot) for answer in running for line in answer.result or []), key=lambda p: p[0]["time"]
    )
    for line, bot in merged[-lines:] if lines else []:
        out.print(shard_prefix(bot) + format_line(line), highlight=False, soft_wrap=True)
    if follow:
        shown = {answer.bot: answer.result or [] for answer in running}
        asyncio.run(_follow_every(shown, wanted))


def shard_prefix(bot: BotSocket) -> str:
    return f"[cyan]{bot.label}[/] "


async def _follow_every(shown: dict[BotSocket, list[dict[str, Any]]], wanted: int) -> None:
    async def one(bot: BotSocket) -> None:
        try:
            client = await ControlClient.connect(bot.path)
        except BotNotRunning:
            out.print(f"{shard_prefix(bot)}[yellow]stopped[/]", highlight=False)
            return
        try:
            await follow_lines(client, wanted, shown[bot], shard_prefix(bot))
        except BotNotRunning:
            out.print(f"{shard_prefix(bot)}[yellow]stopped[/]", highlight=False)
        finally:
            await client.close()

    await asyncio.gather(*(one(bot) for bot in shown))


async def follow_lines(
    client: ControlClient, wanted: int, shown: list[dict[str, Any]], prefix: str = ""
) -> None:
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
            out.print(f"{prefix}[yellow]… {data['count']} lines skipped (this terminal read too slowly)[/]")
        elif name == "logs" and logging.getLevelName(data["level"]) >= wanted:
            if data["time"] < newest or (data["time"], data["message"]) in seen:
                continue
            out.print(prefix + format_line(data), highlight=False, soft_wrap=True)
