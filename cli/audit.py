"""`quranbot audit`: who did what, where, when, and with what result, read from the audit files.

It reads `audit.jsonl` and its rotated files in the state directory itself, so it works whether the
bot runs or not (the bot only ever appends whole lines; a torn last line is skipped). Reading needs
the rights the state directory has: root or the bot's user.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from quranbot.audit.files import audit_files
from quranbot.audit.filters import AuditFilter, parse_since, select
from quranbot.audit.reader import read_records
from quranbot.audit.record import RESULTS, SOURCES, AuditRecord
from quranbot.audit.writer import DEFAULT_KEEP, DEFAULT_MAX_BYTES, AuditLog
from quranbot.cli.context import cli_context
from quranbot.cli.output import fail, out
from quranbot.cli.shard_choice import ShardOption, chosen_bots
from quranbot.config.load import load_config
from quranbot.config.schema import ConfigError
from quranbot.control.machine import BotSocket
from quranbot.paths import Paths

RESULT_STYLE = {"ok": "green", "refused": "yellow", "error": "bold red"}


def audit_command(
    ctx: typer.Context,
    guild: Annotated[str | None, typer.Option("--guild", help="Only this server (its id).")] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Only this member or terminal user (an id, or a name).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only since then: 30m, 2h, 7d, 2w, or a date/time (2026-12-01T18:30)."),
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help=f"Only from: {', '.join(SOURCES)}.")] = None,
    result: Annotated[str | None, typer.Option("--result", help=f"Only: {', '.join(RESULTS)}.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="The newest N that match (0: all of them).")
    ] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    shard: ShardOption = None,
) -> None:
    """Show the audit trail: every control action, refusals included, oldest first. Sharded, every
    shard's trail merged by time (a shard column, `"shard"` in JSON), or --shard N's."""
    paths = cli_context(ctx).paths
    try:
        wanted = AuditFilter(
            guild=guild,
            user=user,
            since=None if since is None else parse_since(since),
            source=source,
            result=result,
        )
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    bots = chosen_bots(paths, shard)
    if bots[0].shard is not None:
        _shards_audit(bots, wanted, limit, as_json)
        return
    try:
        records = select(read_records(paths.state_dir), wanted, limit)
    except PermissionError:
        raise fail(f"not allowed to read {paths.state_dir}: run as root or as the bot's user") from None
    if as_json:
        for record in records:
            typer.echo(json.dumps(record.to_json(), ensure_ascii=False))
        return
    if not records:
        out.print("No audit records match." if _any(paths) else f"No audit records in {paths.state_dir} yet.")
        return
    out.print(audit_table(records))


def _shards_audit(bots: list[BotSocket], wanted: AuditFilter, limit: int, as_json: bool) -> None:
    """Each shard's newest `limit` that match, merged by time: the newest `limit` of the machine."""
    tagged: list[tuple[AuditRecord, int]] = []
    for bot in bots:
        assert bot.shard is not None
        try:
            tagged += [
                (record, bot.shard) for record in select(read_records(bot.paths.state_dir), wanted, limit)
            ]
        except PermissionError:
            raise fail(
                f"not allowed to read {bot.paths.state_dir}: run as root or as the bot's user"
            ) from None
    tagged.sort(key=lambda pair: pair[0].moment)  # stable: a tie keeps shard order
    if limit > 0:
        tagged = tagged[-limit:]
    if as_json:
        for record, shard in tagged:
            typer.echo(json.dumps({"shard": shard, **record.to_json()}, ensure_ascii=False))
        return
    if not tagged:
        where = ", ".join(str(bot.paths.state_dir) for bot in bots)
        anything = any(_any(bot.paths) for bot in bots)
        out.print("No audit records match." if anything else f"No audit records in {where} yet.")
        return
    out.print(audit_table([record for record, _ in tagged], [shard for _, shard in tagged]))


def _any(paths: Paths) -> bool:
    return next(read_records(paths.state_dir), None) is not None


def audit_table(records: list[AuditRecord], shards: list[int] | None = None) -> Table:
    """The records as a table; sharded, with the shard each came from."""
    table = Table(box=box.SIMPLE_HEAD)
    if shards is not None:
        table.add_column("shard", justify="right", no_wrap=True)
    for column in ("when", "source", "who", "where", "action", "result"):
        table.add_column(column, no_wrap=column in ("when", "result"))
    for index, record in enumerate(records):
        moment = record.moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        who = record.actor + (f" ({record.actor_id})" if record.actor_id else "")
        where = " #".join(filter(None, [record.guild_id, record.channel_id])) or "—"
        what = record.action + "".join(f" {k}={v}" for k, v in record.args.items())
        style = RESULT_STYLE.get(record.result, "")
        outcome = f"[{style}]{record.result}[/]" + (f": {escape(record.reason)}" if record.reason else "")
        cells = [moment, record.source, escape(who), where, escape(what), outcome]
        table.add_row(*([] if shards is None else [str(shards[index])]), *cells)
    return table


def record_offline(paths: Paths, action: str, guild_id: int | None = None, **args: object) -> None:
    """A change the terminal made to the files while the bot was stopped (so this is the one writer).

    Run as root on a server, a file it creates would be root's, and the bot could not append to it:
    the audit files are handed back to the owner of the state directory."""
    try:
        config = load_config(paths.config_file)
        bounds = (config.audit_max_kib * 1024, config.audit_keep)
    except (ConfigError, OSError):
        bounds = (DEFAULT_MAX_BYTES, DEFAULT_KEEP)
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = f"uid {uid}"
    record = AuditRecord.create(
        "terminal", name, action, actor_id=uid, guild_id=guild_id, args=args, pid=os.getpid()
    )
    with AuditLog(paths.state_dir, *bounds) as trail:
        trail.record(record)
    owner = paths.state_dir.stat()
    if os.geteuid() == 0 and owner.st_uid != 0:
        for path in audit_files(paths.state_dir):
            with contextlib.suppress(FileNotFoundError):
                os.chown(path, owner.st_uid, owner.st_gid)
