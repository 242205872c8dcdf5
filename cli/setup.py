"""`quranbot setup`: the token, where to recite and the settings, asked once and saved for `quranbot run`.

Interactive by default (every question shows the current value; Enter keeps it). With `--no-prompt` it
asks nothing: the options given change config.toml, a bad value is refused naming the option and the
reason (exit 2), and nothing is written unless everything is valid. Either way the token goes to its own
0600 file and is never printed: the summary shows `MTIz…(72 chars)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.markup import escape

from quranbot.alerts.webhook_url import (
    WebhookUrlError,
    masked_webhook,
    read_webhook_url,
    write_webhook_url,
)
from quranbot.audio.library import Library
from quranbot.cli.ask import yes_no
from quranbot.cli.config_table import config_table
from quranbot.cli.context import cli_context
from quranbot.cli.output import fail, out
from quranbot.cli.setup_wizard import print_invite, run_wizard
from quranbot.config.load import load_config
from quranbot.config.rules import (
    BadValue,
    backup_minutes,
    discord_id,
    imported_reciter,
    optional,
    timezone_name,
)
from quranbot.config.schema import Config, ConfigError, GuildConfig, with_guild
from quranbot.config.timezones import system_timezone
from quranbot.config.token import TokenError, check_token, masked, read_token, write_token
from quranbot.config.write import write_config
from quranbot.paths import Paths
from quranbot.secret import Secret

T = TypeVar("T")

#: Bad option values and missing required ones: a usage error, as Typer's own.
USAGE = 2


@dataclass(frozen=True)
class GuildOptions:
    guild: str | None
    voice_channel: str | None
    panel_channel: str | None
    controller_role: str | None

    def given(self) -> bool:
        return any(
            v is not None for v in (self.guild, self.voice_channel, self.panel_channel, self.controller_role)
        )


def _rule(option: str, rule: Callable[[object], T], value: str) -> T:
    """`rule(value)`, its refusal naming the option the admin typed."""
    try:
        return rule(value)
    except BadValue as exc:
        raise ConfigError(str(exc), option) from None


def _with_guild_options(config: Config, options: GuildOptions) -> Config:
    """The server the options name, updated (or added, which needs its voice channel)."""
    if not options.given():
        return config
    if options.guild is not None:
        guild_id = _rule("--guild", discord_id, options.guild)
    elif len(config.guilds) == 1:
        guild_id = config.guilds[0].id
    else:
        raise ConfigError("which server? give its --guild ID too", "--voice-channel")
    existing = next((g for g in config.guilds if g.id == guild_id), None)
    if existing is None and options.voice_channel is None:
        raise ConfigError(f"{guild_id} is not in config.toml yet: give its --voice-channel too", "--guild")
    guild = existing or GuildConfig(guild_id, 0)
    if options.voice_channel is not None:
        guild = replace(guild, voice_channel=_rule("--voice-channel", discord_id, options.voice_channel))
    if options.panel_channel is not None:
        guild = replace(
            guild, panel_channel=_rule("--panel-channel", optional(discord_id), options.panel_channel)
        )
    if options.controller_role is not None:
        role = _rule("--controller-role", optional(discord_id), options.controller_role)
        guild = replace(guild, controller_role=role)
    return with_guild(config, guild)


def _stored_token(paths: Paths) -> Secret | None:
    """The token saved by an earlier setup, if it is still shaped like one."""
    try:
        return check_token(read_token(paths.token_file).reveal())
    except TokenError:
        return None


def _stored_webhook(paths: Paths) -> Secret | None:
    """The webhook URL saved by an earlier setup, if it is still shaped like one."""
    try:
        return read_webhook_url(paths.alerts_webhook_file)
    except WebhookUrlError:
        return None


def _save_webhook(paths: Paths, webhook: Secret | None) -> None:
    if webhook is None:
        paths.alerts_webhook_file.unlink(missing_ok=True)
        out.print("Removed the alerts webhook URL.")
        return
    write_webhook_url(paths.alerts_webhook_file, webhook)
    out.print(
        f"Saved the alerts webhook URL to {escape(str(paths.alerts_webhook_file))} (readable by its owner "
        "only); `quranbot alerts test` tries it.",
        soft_wrap=True,
    )


def _save(
    paths: Paths,
    token: Secret,
    config: Config,
    token_changed: bool,
    webhook: Secret | None = None,
    webhook_changed: bool = False,
) -> None:
    try:
        if token_changed:
            write_token(paths.token_file, token)
        write_config(paths.config_file, config)
        if webhook_changed:
            _save_webhook(paths, webhook)
    except OSError as exc:
        raise fail(
            f"Could not write {exc.filename or paths.config_dir}: {exc.strerror or exc} "
            "(on a server, run setup as root: sudo quranbot setup)"
        ) from None
    if token_changed:
        out.print(
            f"Saved the token to {escape(str(paths.token_file))} (readable by its owner only).",
            soft_wrap=True,
        )
    out.print(f"Saved the settings to {escape(str(paths.config_file))}.", soft_wrap=True)
    out.print(
        "Start the bot with `quranbot run` (a running bot reads them when it restarts).", soft_wrap=True
    )


def setup_command(
    ctx: typer.Context,
    no_prompt: Annotated[
        bool,
        typer.Option("--no-prompt", help="Ask nothing: save the options given; refuse bad values (exit 2)."),
    ] = False,
    token_file: Annotated[
        Path | None,
        typer.Option(help="Read the bot token from this file (default: ask, or keep the saved one)."),
    ] = None,
    guild: Annotated[str | None, typer.Option(help="A server (guild) id to recite in.")] = None,
    voice_channel: Annotated[str | None, typer.Option(help="That server's voice channel id.")] = None,
    panel_channel: Annotated[
        str | None, typer.Option(help="That server's panel channel id (none: unset).")
    ] = None,
    controller_role: Annotated[
        str | None, typer.Option(help="The role that may steer there (none: every member).")
    ] = None,
    reciter: Annotated[
        str | None, typer.Option(help="The default reciter, an imported one (none: the first imported).")
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="Time zone, e.g. Europe/London.")] = None,
    backup_every: Annotated[str | None, typer.Option(help="Minutes between state backups.")] = None,
    pause_when_empty: Annotated[
        bool | None, typer.Option(help="Pause while nobody is in the voice channel.")
    ] = None,
    admin_user: Annotated[
        str | None, typer.Option(help="Discord user id error alerts ping (none: unset).")
    ] = None,
    admin_role: Annotated[
        str | None, typer.Option(help="Discord role id error alerts ping (none: unset).")
    ] = None,
    alerts_channel: Annotated[
        str | None, typer.Option(help="Text channel id the bot posts alerts in (none: unset).")
    ] = None,
    alerts_webhook_file: Annotated[
        Path | None, typer.Option(help="Read the alerts webhook's URL from this file (saved 0600).")
    ] = None,
    no_alerts_webhook: Annotated[
        bool, typer.Option("--no-alerts-webhook", help="Remove the saved alerts webhook URL.")
    ] = False,
) -> None:
    """Set up the bot: token, invite link, servers and channels, reciter, time zone, backups, alerts."""
    paths = cli_context(ctx).paths
    library = Library(paths.audio_dir)
    try:
        current = load_config(paths.config_file)
    except ConfigError as exc:
        raise fail(f"{exc} (fix it, or move it aside to start afresh)") from None
    stored = _stored_token(paths)
    try:
        given_token = None if token_file is None else check_token(read_token(token_file).reveal())
    except TokenError as exc:
        raise fail(f"--token-file: {exc}", USAGE) from None
    stored_webhook = _stored_webhook(paths)
    try:
        given_webhook = None if alerts_webhook_file is None else read_webhook_url(alerts_webhook_file)
    except WebhookUrlError as exc:
        raise fail(f"--alerts-webhook-file: {exc}", USAGE) from None
    if alerts_webhook_file is not None and given_webhook is None:
        raise fail(f"--alerts-webhook-file: {alerts_webhook_file} does not exist", USAGE)
    webhook = None if no_alerts_webhook else given_webhook or stored_webhook
    try:
        start = _with_guild_options(
            current, GuildOptions(guild, voice_channel, panel_channel, controller_role)
        )
        if reciter is not None:
            start = replace(
                start, reciter=_rule("--reciter", optional(lambda v: imported_reciter(v, library)), reciter)
            )
        if timezone is not None:
            start = replace(start, timezone=_rule("--timezone", timezone_name, timezone))
        if backup_every is not None:
            start = replace(
                start, backup_interval_minutes=_rule("--backup-every", backup_minutes, backup_every)
            )
        if pause_when_empty is not None:
            start = replace(start, pause_when_empty=pause_when_empty)
        if admin_user is not None:
            start = replace(start, admin_user=_rule("--admin-user", optional(discord_id), admin_user))
        if admin_role is not None:
            start = replace(start, admin_role=_rule("--admin-role", optional(discord_id), admin_role))
        if alerts_channel is not None:
            start = replace(
                start, alerts_channel=_rule("--alerts-channel", optional(discord_id), alerts_channel)
            )
    except ConfigError as exc:
        raise fail(str(exc), USAGE) from None

    if no_prompt:
        token = given_token or stored
        if token is None:
            raise fail(
                f"--no-prompt needs --token-file FILE (no token is saved in {paths.token_file} yet)", USAGE
            )
        config = start if start.timezone is not None else replace(start, timezone=system_timezone())
        print_invite(token)
        _save(paths, token, config, token != stored, webhook, webhook != stored_webhook)
        return

    out.print(
        f"QuranBot setup: settings go to {escape(str(paths.config_file))}, the token to "
        f"{escape(str(paths.token_file))}. Enter keeps the value in brackets.",
        soft_wrap=True,
    )
    try:
        answers = run_wizard(start, given_token or stored, library, webhook)
        shown_webhook = "(none)" if answers.webhook is None else masked_webhook(answers.webhook)
        out.print(config_table(answers.config, masked(answers.token), shown_webhook))
        confirmed = yes_no(f"Write {escape(str(paths.config_file))}?", default=True)
    except (EOFError, KeyboardInterrupt):
        out.print()
        raise fail("setup stopped before the end: nothing was written") from None
    if not confirmed:
        out.print("Nothing was written.")
        raise typer.Exit(1)
    _save(
        paths,
        answers.token,
        answers.config,
        answers.token != stored,
        answers.webhook,
        answers.webhook != stored_webhook,
    )
