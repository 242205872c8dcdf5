"""`--shard N` for the commands that read or change one bot's files (backups, the audit trail, quiz
figures, logs, alerts): sharded, they act on every shard of the machine unless told one
(docs/SCALING.md); unsharded, there is the one bot and `--shard` is refused.
"""

from __future__ import annotations

from typing import Annotated

import typer

from quranbot.cli.output import fail
from quranbot.control.machine import BotSocket, MachineBots, machine_bots
from quranbot.paths import Paths

ShardOption = Annotated[
    int | None,
    typer.Option(
        "--shard",
        min=0,
        help="Sharded: only this shard of the machine (default: every shard).",
        show_default=False,
    ),
]


def shard_list(bots: MachineBots) -> str:
    shards = [str(bot.shard) for bot in bots.sockets if bot.shard is not None]
    return ", ".join(shards)


def chosen_bots(paths: Paths, shard: int | None) -> list[BotSocket]:
    """The bots a command acts on: the one unsharded bot, every shard of the machine, or `shard` alone.

    Sharded, an unsharded bot left running from before sharding is not one of them: its files were
    moved by the migration, and the shards' own are what the admin asks about."""
    bots = machine_bots(paths)
    if not bots.sharded:
        if shard is not None:
            raise fail(f"--shard {shard}: QuranBot does not run as shards here (no shard_count)", code=2)
        return list(bots.sockets)
    shards = [bot for bot in bots.sockets if bot.shard is not None]
    if shard is None:
        return shards
    found = [bot for bot in shards if bot.shard == shard]
    if not found:
        raise fail(f"--shard {shard}: this machine runs shard(s) {shard_list(bots)}", code=2)
    return found


def one_bot(paths: Paths, shard: int | None, why: str) -> BotSocket:
    """The one bot a command must act on: sharded, `--shard N` is required (`why` says why)."""
    bots = chosen_bots(paths, shard)
    if len(bots) > 1 or (shard is None and bots[0].shard is not None):
        listed = ", ".join(str(bot.shard) for bot in bots)
        raise fail(f"QuranBot runs as shards here: {why}, so say which with --shard N (shards {listed})", 2)
    return bots[0]


def heading(bot: BotSocket) -> str:
    """`── shard 1 (/var/lib/quranbot/shard-1)`, above a shard's part of a command's output."""
    return f"[bold]── {bot.label} ({bot.paths.state_dir})[/]"
