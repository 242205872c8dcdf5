"""`quranbot backup ...`: make, list, verify and restore backups of the bot's state.

Making, listing and verifying only read the state, so they are safe while the bot runs. Restoring
replaces the state files, which only the bot may write while it runs (one writer per file), so it
refuses until the bot is stopped.

Sharded (docs/SCALING.md), each shard has its own state and backups: making, listing and verifying act
on every shard of the machine (or `--shard N`), restoring on the one shard `--shard N` names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from quranbot.backup.archive import (
    BackupInfo,
    BackupInvalid,
    backup_paths,
    create_backup,
    list_backups,
    restore_backup,
    verify_backup,
)
from quranbot.cli.alerts import announce
from quranbot.cli.audit import record_offline
from quranbot.cli.context import cli_context
from quranbot.cli.output import err, fail, human_size, out
from quranbot.cli.shard_choice import ShardOption, chosen_bots, heading, one_bot
from quranbot.control.machine import BotSocket, machine_bots
from quranbot.log_setup import configure_logging
from quranbot.paths import Paths
from quranbot.store.layout import STATE_FILES
from quranbot.store.lock import StateLocked, lock_holder

backup_app = typer.Typer(
    help="Make, list, verify and restore backups of the bot's state.", no_args_is_help=True
)


def _files(info: BackupInfo) -> str:
    return f"{len(info.files)} file" + ("" if len(info.files) == 1 else "s")


def _when(info: BackupInfo) -> str:
    return info.created.strftime("%Y-%m-%d %H:%M")


def _running_message(paths: Paths, pid: int) -> str:
    who = f"process {pid}" if pid > 0 else "another process"
    if paths.shard is not None:
        return (
            f"Shard {paths.shard} of QuranBot is running ({who}) and owns the state in {paths.state_dir}; "
            f"restoring now would race its writes. Stop it first (`systemctl stop quranbot@{paths.shard}`, "
            "or Ctrl+C on its `quranbot run`), then restore."
        )
    return (
        f"QuranBot is running ({who}) and owns the state in {paths.state_dir}; restoring now would race "
        "its writes. Stop it first (e.g. `systemctl stop quranbot`, or Ctrl+C on `quranbot run`), then "
        "restore. Asking a running bot to pause its writes arrives with the control socket."
    )


def _resolve(paths: Paths, name: str) -> Path:
    """A backup's file name in the backups directory, or a path to an archive anywhere."""
    candidate = Path(name).expanduser()
    if candidate.name == name and (paths.backups_dir / name).is_file():
        return paths.backups_dir / name
    if candidate.is_file():
        return candidate
    raise fail(f"No backup {name!r}: not a file, nor a file in {paths.backups_dir}")


def _resolve_among(bots: list[BotSocket], name: str) -> tuple[BotSocket | None, Path]:
    """Sharded: the shard whose backups hold `name` (None: a path given), refused when several do."""
    if len(bots) == 1:
        return bots[0], _resolve(bots[0].paths, name)
    holders = [bot for bot in bots if Path(name).name == name and (bot.paths.backups_dir / name).is_file()]
    if len(holders) > 1:
        listed = " and ".join(bot.label for bot in holders)
        raise fail(f"{name!r} is a backup of {listed}: say which with --shard N", code=2)
    if holders:
        return holders[0], holders[0].paths.backups_dir / name
    candidate = Path(name).expanduser()
    if candidate.is_file():
        return None, candidate
    where = ", ".join(str(bot.paths.backups_dir) for bot in bots)
    raise fail(f"No backup {name!r}: not a file, nor a file in {where}")


def _shard_of_backup(paths: Paths, path: Path) -> int | None:
    """The shard whose backups directory holds `path`, if any (another shard's guilds are in it)."""
    folder = path.resolve().parent
    for bot in machine_bots(paths).sockets:
        if bot.shard is not None and bot.paths.backups_dir.resolve() == folder:
            return bot.shard
    return None


@backup_app.command("create")
def create_command(ctx: typer.Context, shard: ShardOption = None) -> None:
    """Back up the state files now (safe while the bot runs); sharded, every shard's (or --shard N's)."""
    context = cli_context(ctx)
    configure_logging(context.verbose)
    bots = chosen_bots(context.paths, shard)
    failed = 0
    for bot in bots:
        paths = bot.paths
        prefix = "" if bot.shard is None else f"{bot.label}: "
        try:
            info = create_backup(paths.state_dir, paths.backups_dir)
        except (OSError, BackupInvalid) as exc:
            if len(bots) == 1:
                raise fail(f"{prefix}The backup failed: {exc}") from None
            err.print(f"{prefix}the backup failed: {escape(str(exc))}", soft_wrap=True)
            failed += 1
            continue
        names = ", ".join(entry.name for entry in info.files) or "no state files yet"
        out.print(
            f"{prefix}Backed up {names} to {escape(str(info.path))} ({human_size(info.size)})", soft_wrap=True
        )
    if failed:
        raise fail(f"The backup of {failed} of {len(bots)} shards failed")


@backup_app.command("list")
def list_command(ctx: typer.Context, shard: ShardOption = None) -> None:
    """List the backups, newest first, each checked; sharded, every shard's (or --shard N's)."""
    for bot in chosen_bots(cli_context(ctx).paths, shard):
        _list_backups(bot)


def _list_backups(bot: BotSocket) -> None:
    paths = bot.paths
    try:
        backups = list_backups(paths.backups_dir, verify=True)
    except OSError as exc:
        raise fail(f"Cannot read the backups directory: {exc}") from None
    if not backups:
        of = "" if bot.shard is None else f" of {bot.label}"
        out.print(f"No backups{of} in {escape(str(paths.backups_dir))}", soft_wrap=True)
        return
    of = "" if bot.shard is None else f" of {bot.label}"
    table = Table(
        title=f"Backups{of} in {escape(str(paths.backups_dir))}",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        collapse_padding=True,
    )
    table.add_column("Name", no_wrap=True)
    table.add_column("Created (UTC)", no_wrap=True)
    table.add_column("Files", justify="right", no_wrap=True)
    table.add_column("Size", justify="right", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    for info in backups:
        status = "[green]ok[/]" if info.ok else "[red]INVALID[/]"
        table.add_row(info.name, _when(info), str(len(info.files)), human_size(info.size), status)
    out.print(table)
    # Reasons go below the table, where a long one is readable in an 80-column terminal.
    for info in backups:
        if not info.ok:
            out.print(f"[red]INVALID[/] {escape(info.name)}: {escape(info.error or '')}", soft_wrap=True)


@backup_app.command("verify")
def verify_command(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="A backup's file name or path (default: every backup).")
    ] = None,
    shard: ShardOption = None,
) -> None:
    """Check backups completely (names, manifest, checksums, parse); exit 1 if any is invalid. Sharded,
    every shard's backups (or --shard N's); a NAME is looked for in each shard's."""
    bots = chosen_bots(cli_context(ctx).paths, shard)
    if bots[0].shard is None:  # unsharded: the one bot's backups, as always
        _verify(_targets(bots[0].paths, name), bots[0].paths)
        return
    if name is not None:
        holder, path = _resolve_among(bots, name)
        if holder is not None:
            out.print(heading(holder), soft_wrap=True)
        _verify([path], bots[0].paths)
        return
    invalid = 0
    for bot in bots:
        out.print(heading(bot), soft_wrap=True)
        try:
            _verify(_targets(bot.paths, None), bot.paths)
        except typer.Exit:
            invalid += 1
    if invalid:
        raise fail(f"{invalid} of {len(bots)} shards have invalid backups")


def _targets(paths: Paths, name: str | None) -> list[Path]:
    try:
        return [_resolve(paths, name)] if name is not None else sorted(backup_paths(paths.backups_dir))
    except OSError as exc:
        raise fail(f"Cannot read the backups directory: {exc}") from None


def _verify(targets: list[Path], paths: Paths) -> None:
    if not targets:
        out.print(f"No backups in {escape(str(paths.backups_dir))}", soft_wrap=True)
        return
    invalid = 0
    for path in targets:
        try:
            info = verify_backup(path)
        except BackupInvalid as exc:
            invalid += 1
            out.print(f"[red]INVALID[/] {escape(path.name)}: {escape(exc.reason)}", soft_wrap=True)
            continue
        out.print(f"[green]OK[/]      {escape(info.name)} ({_files(info)})", soft_wrap=True)
    if invalid:
        raise fail(f"{invalid} of {len(targets)} backups are invalid")


@backup_app.command("restore")
def restore_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A backup's file name in the backups directory, or a path.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    shard: ShardOption = None,
) -> None:
    """Replace the state with a backup's (the bot must be stopped; the current state is backed up first).
    Sharded, the state of the shard --shard N names, from its own backups."""
    context = cli_context(ctx)
    configure_logging(context.verbose)
    paths = one_bot(context.paths, shard, "each shard has its own state and backups").paths
    path = _resolve(paths, name)
    origin = None if paths.shard is None else _shard_of_backup(paths, path)
    if origin is not None and origin != paths.shard:
        raise fail(
            f"{path.name} is a backup of shard {origin} (in its backups): its guilds are not shard "
            f"{paths.shard}'s. Restore it with --shard {origin}"
        )
    holder = lock_holder(paths.state_dir)
    if holder is not None:
        raise fail(_running_message(paths, holder))
    try:
        info = verify_backup(path)
    except BackupInvalid as exc:
        raise fail(f"Not restoring {path.name}: {exc.reason}") from None
    held = {entry.name for entry in info.files}
    dropped = [n for n in STATE_FILES if n not in held and (paths.state_dir / n).exists()]
    out.print(
        f"Restore {escape(info.name)} (made {_when(info)} UTC: {', '.join(sorted(held)) or 'no files'}) "
        f"into {escape(str(paths.state_dir))}. The current state is backed up first.",
        soft_wrap=True,
    )
    if dropped:
        out.print(f"Not in this backup, so moved aside: {', '.join(dropped)}", soft_wrap=True)
    if not yes and not typer.confirm("Restore?", default=False):
        out.print("Nothing changed.")
        raise typer.Exit(1)
    try:
        result = restore_backup(path, paths.state_dir, paths.backups_dir)
    except StateLocked as exc:
        raise fail(_running_message(paths, exc.pid or -1)) from None
    except BackupInvalid as exc:
        raise fail(f"Not restoring {path.name}: {exc.reason}") from None
    except OSError as exc:
        raise fail(
            f"The restore failed: {exc}. If it stopped part-way, the state from before it is in the "
            f"newest backup in {paths.backups_dir}"
        ) from None
    record_offline(paths, "backup.restore", name=info.name)
    out.print(
        f"Restored {', '.join(result.restored) or 'no files'} from {escape(info.name)}.", soft_wrap=True
    )
    of = "" if paths.shard is None else f" into shard {paths.shard}"
    announce(paths, f"Backup restored{of}: {info.name} ({', '.join(result.restored) or 'no files'})")
    for aside in result.moved_aside:
        out.print(f"Moved aside: {escape(str(aside))}", soft_wrap=True)
    if result.safety_backup is not None:
        out.print(f"The state before the restore is in {escape(str(result.safety_backup))}", soft_wrap=True)
