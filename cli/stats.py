"""`quranbot stats ...`: members' listening per server, its CSV export, and forgetting a member.

A running bot buffers listening statistics and writes them once a statistics interval (30 s unless
`quranbot run --statistics-interval` says otherwise), so while it runs its socket is the truth; a bot
that stopped wrote everything first, so then the files are. Each command asks the bot and, when it is
not running, reads (or for `forget`, changes) the files itself. Members appear by id only.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich import box
from rich.table import Table

from quranbot.atomic_file import atomic_write_bytes
from quranbot.backup.archive import newest_good_copy
from quranbot.cli.audit import record_offline
from quranbot.cli.bot_socket import with_bot
from quranbot.cli.context import cli_context
from quranbot.cli.output import fail, out
from quranbot.config.load import load_config
from quranbot.config.rules import BadValue, discord_id
from quranbot.config.schema import ConfigError
from quranbot.config.timezones import system_timezone
from quranbot.control.client import ControlClient
from quranbot.control.machine import BotSocket, machine_bots
from quranbot.listening.export import write_csv
from quranbot.listening.figures import format_duration, guild_figures
from quranbot.log_setup import configure_logging
from quranbot.paths import Paths
from quranbot.shards.layout import read_marker
from quranbot.shards.ownership import Shard, shard_of
from quranbot.store.flusher import DEFAULT_STATISTICS_INTERVAL
from quranbot.store.layout import STATE_FILES, STATS
from quranbot.store.lock import LOCK_NAME, StateLocked, lock_holder
from quranbot.store.records import ListeningStats
from quranbot.store.schema import SchemaTooNew
from quranbot.store.state import StateStore, StoreUnavailable, listening_on_disk
from quranbot.store.storage import CorruptStateFile

stats_app = typer.Typer(
    help="Listening statistics: each server's figures and leaderboard, a CSV export, forgetting a member."
)

FROM_BOT = "from the running bot"
PRIVACY_ON = "/stats privacy:on"

GuildOption = Annotated[
    str | None, typer.Option("--guild", help="Only this server (its id); default: every server.")
]


def _discord_id(what: str, value: str) -> int:
    try:
        return discord_id(value)
    except BadValue as exc:
        raise fail(f"{what}: {exc}", code=2) from None


def _guild(value: str | None) -> int | None:
    return None if value is None else _discord_id("--guild", value)


def _files_note(paths: Paths) -> str:
    """Where figures read from the files come from, and whether they may be behind."""
    with contextlib.suppress(OSError):
        if lock_holder(paths.state_dir) is not None:
            return (
                "from the files: QuranBot holds them but does not answer on its socket (starting or "
                f"stopping?), so up to {DEFAULT_STATISTICS_INTERVAL:g} s of listening (its statistics "
                "interval, by default) may not be saved yet"
            )
    return "from the files (the bot is not running)"


def _today(paths: Paths) -> datetime.date:
    """The bot's local date, as it would count it: config.toml's time zone, else the server's."""
    try:
        config = load_config(paths.config_file)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    return datetime.datetime.now(ZoneInfo(config.timezone or system_timezone())).date()


def _on_disk(paths: Paths) -> dict[int, list[ListeningStats]]:
    try:
        return listening_on_disk(paths.state_dir)
    except CorruptStateFile as exc:
        raise fail(
            f"{exc.path} is unreadable ({exc.reason}). Starting the bot moves it aside and restores the "
            "newest good copy from the backups, if one holds it (`quranbot doctor` checks every state file)"
        ) from None
    except OSError as exc:
        raise fail(
            f"Cannot read {paths.state_dir / STATS}: {exc.strerror} (run as root or as the bot's user)"
        ) from None


def _records(paths: Paths, guild: int | None) -> dict[int, list[ListeningStats]]:
    """The files' records, of one server or all; an unknown server is an error, as the bot says."""
    records = _on_disk(paths)
    if guild is None:
        return records
    if guild not in records:
        raise fail(f"No listening statistics for server {guild} in {paths.state_dir / STATS}")
    return {guild: records[guild]}


# -- quranbot stats ---------------------------------------------------------------------------------------
@stats_app.callback(invoke_without_command=True)
def stats_command(
    ctx: typer.Context,
    guild: GuildOption = None,
    top: Annotated[
        int, typer.Option("--top", min=1, max=100, help="Members on the leaderboard (1–100).")
    ] = 10,
    as_json: Annotated[
        bool, typer.Option("--json", help='One JSON object: {"source", "day", "guilds"}.')
    ] = False,
) -> None:
    """Each server's listening (members, hours in all and today, khatms) and its all-time leaderboard,
    from the running bot, or from the files while it is stopped."""
    if ctx.invoked_subcommand is not None:
        return
    paths = cli_context(ctx).paths
    guild_id = _guild(guild)

    def one(bot: BotSocket) -> dict[str, Any]:
        async def ask(client: ControlClient) -> dict[str, Any]:
            result = await client.call(
                "listening", guild=None if guild_id is None else str(guild_id), top=top
            )
            return {"source": "bot", "day": result["day"], "guilds": result["guilds"]}

        def read() -> dict[str, Any]:
            today = _today(paths)
            records = sorted(_records(bot.paths, guild_id).items())
            guilds = {str(g): guild_figures(rows, today, top) for g, rows in records}
            return {"source": "files", "day": today.isoformat(), "guilds": guilds}

        return with_bot(bot.path, ask, stopped=read)

    bots = _asked(paths, guild_id)
    reports = [one(bot) for bot in bots]
    report = reports[0] if len(reports) == 1 else _merged(reports)
    if len(bots) > 1 or bots[0].shard is not None:
        report["shards"] = [
            {"shard": b.shard, "source": r["source"]} for b, r in zip(bots, reports, strict=True)
        ]
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    source = FROM_BOT if report["source"] == "bot" else _files_note(bots[0].paths)
    if "shards" in report:
        source = "; ".join(
            f"shard {entry['shard']} {FROM_BOT if entry['source'] == 'bot' else _files_note(bot.paths)}"
            for bot, entry in zip(bots, report["shards"], strict=True)
        )
    out.print(f"Listening statistics {source}; today is {report['day']}.", soft_wrap=True, highlight=False)
    for gid, figures in report["guilds"].items():
        out.print(_summary(gid, figures), soft_wrap=True, highlight=False)
        board = figures["leaderboard"]["all"]
        if board:
            out.print(_board(board, top))
    if not report["guilds"]:
        out.print("No member has listened yet.")


def _asked(paths: Paths, guild: int | None) -> list[BotSocket]:
    """The bots to ask: every shard of the machine, or only the owner of `guild` (one unsharded)."""
    bots = machine_bots(paths)
    if guild is None or not bots.sharded:
        return list(bots.sockets)
    owner = bots.owner(guild)
    if owner is None:
        count = bots.shard_count
        which = f"shard {shard_of(guild, count)} of {count}" if count else "a shard"
        raise fail(f"Server {guild} belongs to {which}, which does not run on this machine")
    return [owner]


def _merged(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The shards' reports as one: their guilds are disjoint (each shard owns its own)."""
    sources = {report["source"] for report in reports}
    guilds = {g: figures for report in reports for g, figures in report["guilds"].items()}
    return {
        "source": sources.pop() if len(sources) == 1 else "bot and files",
        "day": reports[0]["day"],
        "guilds": dict(sorted(guilds.items())),
    }


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _summary(guild: str, figures: dict[str, Any]) -> str:
    return (
        f"Server {guild}: {_plural(figures['members'], 'member')} · {figures['hours_total']} h in all · "
        f"{figures['hours_today']} h today · {_plural(figures['listeners_today'], 'listener')} today · "
        f"{_plural(figures['khatms'], 'khatm')}"
    )


def _board(board: list[dict[str, Any]], top: int) -> Table:
    table = Table(title=f"Top {top}, all time", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("Rank", justify="right", no_wrap=True)
    table.add_column("Member id", no_wrap=True)
    table.add_column("Listened", justify="right", no_wrap=True)
    for row in board:
        table.add_row(str(row["rank"]), str(row["user_id"]), format_duration(row["seconds"]))
    return table


# -- quranbot stats export ----------------------------------------------------------------------------------
@stats_app.command("export")
def export_command(
    ctx: typer.Context,
    csv_format: Annotated[bool, typer.Option("--csv", help="As CSV (the only format, for now).")] = False,
    guild: GuildOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file (readable by you only), not stdout.", dir_okay=False
        ),
    ] = None,
) -> None:
    """Every member's figures, one row per member per server, for a spreadsheet (ids, never names)."""
    if not csv_format:
        raise fail("Say --csv: --csv is the only export format", code=2)
    paths = cli_context(ctx).paths
    guild_id = _guild(guild)

    def one(bot: BotSocket) -> str:
        async def ask(client: ControlClient) -> str:
            """Page by page: one reply stays under the socket's 1 MiB line limit however many members."""
            pages, after = [], None
            while True:
                page = await client.call(
                    "listening.export", guild=None if guild_id is None else str(guild_id), after=after
                )
                pages.append(page["csv"])
                after = page["next"]
                if after is None:
                    return "".join(pages)

        def read() -> str:
            today = _today(paths)
            rows = sorted(
                (s for records in _records(bot.paths, guild_id).values() for s in records),
                key=lambda s: (s.guild_id, s.user_id),
            )
            text = io.StringIO()
            write_csv(rows, text, today)
            return text.getvalue()

        return with_bot(bot.path, ask, stopped=read)

    parts = [one(bot) for bot in _asked(paths, guild_id)]
    # one header: each shard's export starts with it; their rows are of different guilds
    csv_text = parts[0] + "".join(part.partition("\n")[2] for part in parts[1:])
    if output is None:
        typer.echo(csv_text, nl=False)
        return
    try:
        atomic_write_bytes(output, csv_text.encode(), mode=0o600)
    except OSError as exc:
        raise fail(f"Cannot write {output}: {exc.strerror or exc}") from None
    rows = max(0, csv_text.count("\n") - 1)
    out.print(f"Wrote {_plural(rows, 'row')} to {output}", soft_wrap=True, highlight=False)


# -- quranbot stats forget ----------------------------------------------------------------------------------
@stats_app.command("forget")
def forget_command(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="The member's Discord id.", show_default=False)],
    guild: GuildOption = None,
) -> None:
    """Delete what is kept about a member's listening and stop tracking them (in one server, or in
    every server), as `/stats privacy:off` does; they can turn it back on with `/stats privacy:on`."""
    context = cli_context(ctx)
    paths = context.paths
    user_id, guild_id = _discord_id("USER", user), _guild(guild)

    async def ask(client: ControlClient) -> dict[str, Any]:
        guild_param = None if guild_id is None else str(guild_id)
        result: dict[str, Any] = await client.call("listening.forget", user=str(user_id), guild=guild_param)
        return result

    def one(bot: BotSocket) -> dict[str, Any]:
        def change_files() -> dict[str, Any]:
            configure_logging(context.verbose)  # what the store says as it opens (a repaired file)
            return _forget_in_files(bot.paths, user_id, guild_id)

        return with_bot(bot.path, ask, stopped=change_files)

    results = [one(bot) for bot in _asked(paths, guild_id)]  # every shard: its guilds, its files
    result = {key: [g for r in results for g in r[key]] for key in ("forgotten", "opted_out")}
    out.print(_forgot(user_id, result["forgotten"], result["opted_out"]), soft_wrap=True, highlight=False)


def _forgot(user: int, forgotten: list[str], opted_out: list[str]) -> str:
    if not opted_out:
        return f"Nothing is kept about member {user}, and the bot knows no server yet."
    if forgotten:
        done = f"Forgot member {user} in {_plural(len(forgotten), 'server')}"
    else:
        done = f"Nothing was kept about member {user}"
    where = "there" if sorted(forgotten) == sorted(opted_out) else f"in {_plural(len(opted_out), 'server')}"
    return (
        f"{done}; their listening is no longer tracked {where} (they can turn it back on with {PRIVACY_ON})"
    )


def _forget_in_files(paths: Paths, user: int, guild: int | None) -> dict[str, Any]:
    """What `listening.forget` does, done in the files while the bot is stopped (under its lock)."""
    if not paths.state_dir.is_dir():
        raise fail(f"No state in {paths.state_dir}: the bot has not run here yet, so nothing is kept")
    _on_disk(paths)  # a broken stats.json is refused here, not "repaired" by opening the store
    try:
        config = load_config(paths.config_file)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    store = StateStore(paths.state_dir, paths.backups_dir, find_backup=newest_good_copy)
    try:
        store.open()
    except StateLocked as exc:
        holder = f"process {exc.pid}" if exc.pid else "another process"
        raise fail(
            f"The state in {paths.state_dir} is in use by {holder}, but nothing answers on "
            f"{paths.control_socket} (is the bot starting or stopping?): try again in a moment"
        ) from None
    except (StoreUnavailable, SchemaTooNew) as exc:
        raise fail(str(exc)) from None
    try:
        known = (
            {g.id for g in config.guilds}
            | {s.guild_id for s in store.all_settings()}
            | set(store.listening_guilds())
        )
        count = None if paths.shard is None else read_marker(paths.state_dir)
        if paths.shard is not None and count is not None:  # a shard's files: only its own guilds
            store.owns_guild = Shard(paths.shard, count).owns
            known = {g for g in known if store.owns_guild(g)}
        if guild is not None and guild not in known:
            raise fail(f"No server {guild} in config.toml or the bot's state in {paths.state_dir}")
        guilds = [guild] if guild is not None else sorted(known)
        for g in guilds:
            store.set_listening_opt_out(g, user, True)
        forgotten = [g for g in guilds if store.forget_listening(user, g)]
        store.flush()
        record_offline(paths, "listening.forget", guild, user=user)
        _hand_back(paths)
    finally:
        store.close()
    return {
        "user_id": str(user),
        "forgotten": [str(g) for g in forgotten],
        "opted_out": [str(g) for g in guilds],
    }


def _hand_back(paths: Paths) -> None:
    """Run as root (`sudo quranbot stats forget`), the files just rewritten belong to root; give them
    back to the bot's user, who owns the state directory, before the lock is let go."""
    if os.geteuid() != 0:
        return
    owner = paths.state_dir.stat()
    if owner.st_uid == 0:
        return
    for name in (*STATE_FILES, LOCK_NAME):
        with contextlib.suppress(FileNotFoundError):
            os.chown(paths.state_dir / name, owner.st_uid, owner.st_gid)
