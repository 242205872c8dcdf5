"""`quranbot run`: run the bot in the foreground, against Discord or a sandbox."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import aiohttp
import typer

from quranbot.alerts.alert import ALL_CATEGORIES, Category, Level
from quranbot.alerts.settings import AlertSettings
from quranbot.alerts.webhook_url import WebhookUrlError, read_webhook_url
from quranbot.bot.runner import StartupError, run_bot
from quranbot.bot.settings import BotSettings
from quranbot.cli.context import cli_context
from quranbot.cli.output import fail
from quranbot.config.keys import check_shards
from quranbot.config.load import load_config
from quranbot.config.rules import BadValue, listen_address, optional, shard_count, shard_ids
from quranbot.config.schema import DEFAULT_ALERTS_MIN_LEVEL, DEFAULT_QUIZ_DEADLINE, Config, ConfigError
from quranbot.config.token import TOKEN_ENV, TokenError, read_token
from quranbot.log_setup import configure_logging
from quranbot.metrics.address import ListenAddress, parse_listen
from quranbot.paths import Paths
from quranbot.secret import Secret
from quranbot.shards.ownership import Shard
from quranbot.store.flusher import DEFAULT_STATISTICS_INTERVAL
from quranbot.store.records import GuildSettings


@dataclass(frozen=True)
class SandboxTarget:
    """Where a sandbox listens and the certificate it presents."""

    host: str
    port: int
    cert: Path

    def connector(self) -> aiohttp.TCPConnector:
        from quranbot.sandbox.connector import sandbox_connector  # only with --sandbox

        return sandbox_connector(self.host, self.port, self.cert)


def sandbox_target(url: str, cert: Path) -> SandboxTarget:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or not parts.port:
        raise StartupError(
            f"--sandbox wants the URL the sandbox printed, like https://127.0.0.1:8443 (got {url!r})"
        )
    if not cert.is_file():
        raise StartupError(f"No sandbox certificate at {cert}: pass --sandbox-cert, or the sandbox's --home")
    return SandboxTarget(parts.hostname, parts.port, cert)


def run_command(
    ctx: typer.Context,
    token_file: Annotated[
        Path | None, typer.Option(help="File holding the bot token (default: the config directory's token).")
    ] = None,
    sandbox: Annotated[
        str | None, typer.Option(help="Connect to a local sandbox at this URL instead of Discord.")
    ] = None,
    sandbox_cert: Annotated[
        Path | None, typer.Option(help="The sandbox's certificate (default: the one it wrote under --home).")
    ] = None,
    voice_channel: Annotated[
        list[int] | None,
        typer.Option(help="Voice channel id to join and play in (repeatable; default: config.toml's)."),
    ] = None,
    flush_interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between saves of the playback position.")
    ] = 2.0,
    statistics_interval: Annotated[
        float,
        typer.Option(
            min=0.1,
            help="Seconds between saves of listening statistics (a SIGKILL loses at most this much "
            "listening; a larger file, so less often).",
        ),
    ] = DEFAULT_STATISTICS_INTERVAL,
    backup_every: Annotated[
        int | None,
        typer.Option(min=1, help="Minutes between automatic state backups (default: config.toml's, or 60)."),
    ] = None,
    pause_when_empty: Annotated[
        bool | None,
        typer.Option(
            help="Pause while nobody is in the voice channel (saves CPU; default: config.toml's, or off)."
        ),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            metavar="HOST:PORT",
            help="Serve Prometheus metrics at http://HOST:PORT/metrics, e.g. 127.0.0.1:9464 (default: "
            "config.toml's metrics.listen, or none; `none` turns them off for this run).",
        ),
    ] = None,
    shard_count_option: Annotated[
        str | None,
        typer.Option("--shard-count", help="How many gateway shards in all (default: config.toml's)."),
    ] = None,
    shard_ids_option: Annotated[
        str | None,
        typer.Option(
            "--shard-ids", help="The shard this process runs, of --shard-count (default: config's)."
        ),
    ] = None,
) -> None:
    """Run the bot in the foreground until Ctrl+C or SIGTERM.

    Settings come from config.toml (`quranbot setup`), the options given here win over it. The token
    comes from --token-file, else $QURANBOT_TOKEN, else the config directory's `token` file (with
    --sandbox: the token the sandbox wrote).
    """
    context = cli_context(ctx)
    redactor = configure_logging(context.verbose)
    try:
        config = with_shard_options(
            load_config(context.paths.config_file), shard_count_option, shard_ids_option
        )
        shard = process_shard(config)
        paths = context.paths.for_shard(None if shard is None else shard.id)
        target = None
        default_token_file = paths.token_file
        if sandbox is not None:
            target = sandbox_target(sandbox, sandbox_cert or paths.sandbox_dir / "sandbox-cert.pem")
            default_token_file = paths.sandbox_dir / "token"
        env_token = os.environ.get(TOKEN_ENV, "").strip()
        if token_file is None and env_token:
            token = Secret(env_token)
        else:
            token = read_token(token_file or default_token_file)
        redactor.add(token)
        webhook = read_webhook_url(paths.alerts_webhook_file)
        settings = bot_settings(
            config,
            token,
            webhook=webhook,
            voice_channels=voice_channel,
            flush_interval=flush_interval,
            statistics_interval=statistics_interval,
            backup_every=backup_every,
            pause_when_empty=pause_when_empty,
            metrics=metrics,
            shard=shard,
        )
        for secret in settings.alerts.secrets():
            redactor.add(secret)
        asyncio.run(_run(settings, paths, target))
    except (StartupError, ConfigError, TokenError, WebhookUrlError) as exc:
        raise fail(str(exc)) from None


def with_shard_options(config: Config, count: str | None, ids: str | None) -> Config:
    """config.toml's shard keys with --shard-count/--shard-ids on top, checked by the same rules."""
    try:
        if count is not None:
            config = replace(config, shard_count=optional(shard_count)(count))
    except BadValue as exc:
        raise ConfigError(str(exc), "--shard-count") from None
    try:
        if ids is not None:
            config = replace(config, shard_ids=optional(shard_ids)(ids))
    except BadValue as exc:
        raise ConfigError(str(exc), "--shard-ids") from None
    check_shards(config)
    return config


def process_shard(config: Config) -> Shard | None:
    """The one shard this process runs (see QuranBot's docstring for why one), or None unsharded."""
    shards = config.machine_shards
    if config.shard_count is None:
        return None
    if len(shards) != 1:
        listed = ", ".join(map(str, shards))
        raise ConfigError(
            f"this machine runs shards {listed} of {config.shard_count}, one process each: start each with "
            f"`quranbot run --shard-ids N` (`quranbot service install --shards {config.shard_count}` "
            "installs one service per shard)",
            "shard_ids",
        )
    return Shard(shards[0], config.shard_count)


def bot_settings(
    config: Config,
    token: Secret,
    voice_channels: list[int] | None = None,
    flush_interval: float = 2.0,
    backup_every: int | None = None,
    pause_when_empty: bool | None = None,
    statistics_interval: float = DEFAULT_STATISTICS_INTERVAL,
    webhook: Secret | None = None,
    metrics: str | None = None,
    shard: Shard | None = None,
) -> BotSettings:
    """config.toml's settings, each overridden by its command-line option when one was given. A shard
    takes only its own guilds from config.toml: another shard joins the others' voice channels."""
    guilds = tuple(g for g in config.guilds if shard is None or shard.owns(g.id))
    return BotSettings(
        token=token,
        shard=shard,
        voice_channels=tuple(voice_channels) if voice_channels else tuple(g.voice_channel for g in guilds),
        flush_interval=flush_interval,
        statistics_interval=statistics_interval,
        backup_interval=timedelta(
            minutes=backup_every if backup_every is not None else config.backup_interval_minutes
        ),
        pause_when_empty=config.pause_when_empty if pause_when_empty is None else pause_when_empty,
        guild_defaults=tuple(
            GuildSettings(
                guild_id=guild.id,
                # --voice-channel replaces config.toml's channels, so theirs must not win per guild
                voice_channel_id=None if voice_channels else guild.voice_channel,
                panel_channel_id=guild.panel_channel,
                controller_role_id=guild.controller_role,
                listener_role_id=guild.listener_role,
                daily_verse_channel_id=guild.daily_verse_channel,
                daily_verse_time=guild.daily_verse_time,
                language=guild.language,
            )
            for guild in guilds
        ),
        default_reciter=config.reciter,
        timezone=config.timezone,
        quiz_deadline_seconds=config.quiz_deadline_seconds or DEFAULT_QUIZ_DEADLINE,
        quiz_schedules={
            guild.id: (guild.quiz_channel, guild.quiz_every_minutes)
            for guild in guilds
            if guild.quiz_channel is not None and guild.quiz_every_minutes is not None
        },
        count_deafened=config.count_deafened,
        announce_achievements=config.announce_achievements,
        role_after_minutes=config.role_after_minutes,
        daily_verse_pool=config.daily_verse_pool or (),
        daily_verse_grace=timedelta(minutes=config.daily_verse_grace_minutes),
        audit_max_bytes=config.audit_max_kib * 1024,
        audit_keep=config.audit_keep,
        alerts=alert_settings(config, webhook),
        metrics_listen=metrics_address(config, metrics),
    )


def metrics_address(config: Config, flag: str | None) -> ListenAddress | None:
    """`--metrics` if given (checked by config.toml's own rule; `none` is off), else metrics.listen."""
    if flag is None:
        chosen = config.metrics_listen
    else:
        try:
            chosen = optional(listen_address)(flag)
        except BadValue as exc:
            raise ConfigError(str(exc), "--metrics") from None
    return None if chosen is None else parse_listen(chosen)


def alert_settings(config: Config, webhook: Secret | None) -> AlertSettings:
    """config.toml's [alerts] (validated when it was read) and the saved webhook URL."""
    return AlertSettings(
        webhook=webhook,
        channel_id=config.alerts_channel,
        ping_user=config.admin_user,
        ping_role=config.admin_role,
        min_level=Level[(config.alerts_min_level or DEFAULT_ALERTS_MIN_LEVEL).upper()],
        categories=(
            ALL_CATEGORIES
            if config.alerts_categories is None
            else frozenset(Category(name) for name in config.alerts_categories)
        ),
        heartbeat=config.alerts_heartbeat,
    )


async def _run(settings: BotSettings, paths: Paths, target: SandboxTarget | None) -> None:
    """The connector is made inside the event loop that will use it."""
    await run_bot(settings, paths, connector=None if target is None else target.connector())
