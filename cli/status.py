"""`quranbot status`: what the running bot is doing, at a glance (or as JSON for scripts)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from quranbot.cli.bot_socket import NOT_RUNNING, Answer, ask_each, with_bot
from quranbot.cli.context import cli_context
from quranbot.cli.output import fail, human_size, out
from quranbot.clock import clock
from quranbot.control.client import ControlClient
from quranbot.control.machine import MachineBots, machine_bots
from quranbot.tui.playhead import bar, times  # the same playhead as the TUI (no Textual in it)

BAR_WIDTH = 24
STATE_STYLE = {"playing": "green", "paused": "yellow", "idle": "dim", "reconnecting": "red"}


def status_command(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print status and stats as one JSON object.")
    ] = False,
) -> None:
    """Show what each guild is reciting, who listens, and how the bot is doing; sharded, every shard
    on this machine (a shard that is down is shown as down).

    Exit status 3 when the bot (every shard) is not running, so `quranbot status >/dev/null` works in
    scripts.
    """
    bots = machine_bots(cli_context(ctx).paths)
    if bots.sharded:
        _shards_status(bots, as_json)
        return
    status, stats = with_bot(bots.sockets[0].path, _status_and_stats)
    if as_json:
        typer.echo(json.dumps({"status": status, "stats": stats}, ensure_ascii=False, indent=2))
        return
    _print_status(status, stats)


async def _status_and_stats(client: ControlClient) -> tuple[dict[str, Any], dict[str, Any]]:
    return await client.call("status"), await client.call("stats")


def _shards_status(bots: MachineBots, as_json: bool) -> None:
    """Each shard's status, asked at once; exit 3 only when none answers."""
    answers = ask_each(bots.sockets, _status_and_stats)
    if as_json:
        typer.echo(json.dumps(shards_json(answers, bots.shard_count), ensure_ascii=False, indent=2))
    else:
        for answer in answers:
            out.print(shard_line(answer), highlight=False, soft_wrap=True)
            if answer.result is not None:
                _print_status(*answer.result)
    if not any(answer.running for answer in answers):
        raise fail(
            "No shard of QuranBot is running here. Start them with `quranbot service start`.", NOT_RUNNING
        )


def shards_json(
    answers: list[Answer[tuple[dict[str, Any], dict[str, Any]]]], shard_count: int | None
) -> dict[str, Any]:
    """`{"shard_count", "shards": [{"shard", "running", "socket", "status", "stats"} or "error"]}`."""
    shards = []
    for answer in answers:
        entry: dict[str, Any] = {
            "shard": answer.bot.shard,
            "running": answer.running,
            "socket": str(answer.bot.path),
        }
        if answer.result is not None:
            entry["status"], entry["stats"] = answer.result
        else:
            entry["error"] = answer.error
        shards.append(entry)
    return {"shard_count": shard_count, "shards": shards}


def shard_line(answer: Answer[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    """`── shard 1: running, 3 guilds, pid 812` or `── shard 1: down (no control socket at …)`."""
    if answer.result is None:
        return f"[bold red]── {answer.bot.label}: {escape(answer.error or 'down')}[/]"
    status, stats = answer.result
    return (
        f"[bold green]── {answer.bot.label}: running[/], {len(status['guilds'])} guilds, pid {stats['pid']}"
    )


def _print_status(status: dict[str, Any], stats: dict[str, Any]) -> None:
    for guild in status["guilds"]:
        out.print(guild_panel(guild))
    if not status["guilds"]:
        out.print(
            "[yellow]No guild is reciting yet[/]: the bot is connecting, or no voice channel is set up."
        )
    out.print(stats_line(stats), highlight=False)
    for quiz in stats.get("quiz") or []:
        out.print(quiz_line(quiz), highlight=False)


def guild_panel(guild: dict[str, Any]) -> Panel:
    state = guild["state"]
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    ayah = f", ayah {guild['ayah']}" if guild.get("ayah") else ""
    table.add_row(
        "Surah",
        f"{guild['surah']}. {escape(guild['surah_name'])} ({escape(guild['surah_english'])}){ayah}  "
        f"{guild['surah_arabic']}",
    )
    table.add_row("Reciter", escape(guild.get("reciter_name") or guild.get("reciter") or "none imported"))
    filled, empty = bar(guild["position"], guild["duration"], BAR_WIDTH)
    table.add_row("Position", f"{filled}{empty} {times(guild['position'], guild['duration'])}")
    modes = [name for name in ("loop", "shuffle") if guild[name]]
    table.add_row("Order", ", ".join(modes) if modes else "in order")
    names = [escape(listener["name"]) for listener in guild["listeners"]]
    table.add_row("Listeners", f"{len(names)}: {', '.join(names)}" if names else "nobody")
    connection = guild["connection"]
    latency = "" if connection["latency_ms"] is None else f", {connection['latency_ms']:.0f} ms"
    table.add_row("Voice", f"{connection['state']}{latency}, {connection['recoveries']} recoveries")
    if guild.get("last_action"):
        action = guild["last_action"]
        table.add_row("Last action", f"{escape(action['what'])} by {escape(action['who'])}")
    server, channel = guild.get("guild_name") or guild["guild_id"], guild.get("channel_name") or "?"
    where = f"{escape(server)} · #{escape(channel)}"
    title = f"[{STATE_STYLE.get(state, 'white')}]{state.upper()}[/] · {where}"
    return Panel(Group(table), title=title, title_align="left")


def stats_line(stats: dict[str, Any]) -> str:
    backup = stats.get("last_backup")
    last = "never" if backup is None else f"{clock(backup['age'])} ago"
    return (
        f"up {clock(stats['uptime'])} · CPU {stats['cpu_percent']:.1f} % · "
        f"memory {human_size(stats['rss_bytes'])} · {stats['packets_per_second']:.0f} packets/s · "
        f"{stats['recoveries']} recoveries · last backup {last} · pid {stats['pid']}"
    )


def quiz_line(quiz: dict[str, Any]) -> str:
    """`quiz today (Guild): 4 questions · 31 answers · top: name 57, name 40`."""
    top = ", ".join(f"{escape(t['name'])} {t['points']}" for t in quiz.get("top_today") or [])
    where = escape(quiz.get("guild_name") or quiz["guild_id"])
    live = f" · {quiz['open']} open" if quiz.get("open") else ""
    return (
        f"quiz today ({where}): {quiz['questions_today']} questions · {quiz['answers_today']} answers"
        f"{live} · top: {top or 'nobody yet'}"
    )
