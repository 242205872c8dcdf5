"""`quranbot shards ...`: the gateway shards of this machine, and moving guilds when the count changes.

Each shard keeps its guilds' state in `STATE/shard-N/`, the guilds that `(guild_id >> 22) % shard_count`
gives it (docs/SCALING.md). `list` shows them; `migrate` moves every guild's records to its shard
under a new count, with every bot stopped.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from quranbot.cli.context import cli_context
from quranbot.cli.output import fail, out
from quranbot.config.load import load_config
from quranbot.config.schema import ConfigError
from quranbot.shards.layout import holds_state, shard_dirs
from quranbot.shards.migrate import MigrationError, MigrationReport, migrate
from quranbot.store.lock import lock_holder

shards_app = typer.Typer(
    help="Gateway shards on this machine: list them, move guilds between them (docs/SCALING.md).",
    no_args_is_help=True,
)


@shards_app.command("list")
def list_command(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False
) -> None:
    """config.toml's shard keys, and each shard directory here: the count it was made for, running or not."""
    paths = cli_context(ctx).paths
    try:
        config = load_config(paths.config_file)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    rows: list[dict[str, Any]] = []
    for directory in shard_dirs(paths.state_root):
        pid = lock_holder(directory.path)
        rows.append(
            {
                "shard": directory.shard,
                "directory": str(directory.path),
                "shard_count": directory.count,
                "has_state": holds_state(directory.path),
                "running_pid": pid,
            }
        )
    report = {
        "shard_count": config.shard_count,
        "shard_ids": list(config.machine_shards),
        "unsharded_state": holds_state(paths.state_root),
        "directories": rows,
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    if config.shard_count is None:
        out.print("config.toml: unsharded (no shard_count)", highlight=False)
    else:
        mine = ", ".join(map(str, config.machine_shards))
        out.print(
            f"config.toml: shard_count {config.shard_count}; this machine runs shards {mine}", highlight=False
        )
    if report["unsharded_state"]:
        out.print(f"unsharded state in {escape(str(paths.state_root))}", highlight=False, soft_wrap=True)
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("shard", "made for", "state", "running", "directory"):
        table.add_column(column)
    for row in rows:
        running = "no" if row["running_pid"] is None else f"pid {row['running_pid']}"
        made_for = f"{row['shard_count'] or '?'} shards"
        state = "yes" if row["has_state"] else "empty"
        table.add_row(str(row["shard"]), made_for, state, running, escape(row["directory"]))
    if rows:
        out.print(table)


@shards_app.command("migrate")
def migrate_command(
    ctx: typer.Context,
    from_count: Annotated[
        int, typer.Option("--from-count", min=1, help="The count the state is laid out for (1: unsharded).")
    ],
    to_count: Annotated[int, typer.Option("--to-count", min=1, help="The new shard count (1: unsharded).")],
) -> None:
    """Move every guild's records (settings, playback, statistics, quiz) to the shard that owns it under
    --to-count. Refused while any bot of this machine runs; the old state is kept aside, not deleted.
    Then set `shard_count` in config.toml to match (`quranbot config set shard_count N`)."""
    paths = cli_context(ctx).paths
    try:
        report = migrate(paths.state_root, from_count, to_count)
    except MigrationError as exc:
        raise fail(str(exc)) from None
    out.print(_summary(report), highlight=False, soft_wrap=True)


def _summary(report: MigrationReport) -> str:
    if not report.guilds:
        return f"Nothing to move: no state laid out for {report.from_count} shard(s) here."
    per_shard: dict[int | None, int] = {}
    for shard in report.guilds.values():
        per_shard[shard] = per_shard.get(shard, 0) + 1
    where = ", ".join(
        f"{count} in {'the unsharded state' if shard is None else f'shard {shard}'}"
        for shard, count in sorted(per_shard.items(), key=lambda item: -1 if item[0] is None else item[0])
    )
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(report.kinds.items()))
    lines = [
        f"Moved {len(report.guilds)} guilds from {report.from_count} to {report.to_count} shard(s) "
        f"({report.moved} changed directory): {where}.",
        f"Guilds with records, by kind: {kinds}.",
        f"The old state (with its backups and audit trail) is in {report.set_aside}; delete it once the "
        "shards run well.",
    ]
    if report.to_count == 1:
        lines.append(
            "Now remove shard_count and shard_ids from config.toml (`quranbot config set shard_count none`)."
        )
    else:
        lines.append(f"Now set `quranbot config set shard_count {report.to_count}` and start the shards.")
    return "\n".join(lines)
