"""`quranbot config show | set | path`: read and change config.toml from the shell.

`set` takes the dotted keys `config show` lists and checks the value with the same rules as the file
(and, for the reciter, that it is imported); an unknown key or a bad value changes nothing (exit 2).
"""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from rich.markup import escape

from quranbot.alerts.webhook_url import WebhookUrlError, masked_webhook, read_webhook_url
from quranbot.audio.library import Library
from quranbot.cli.config_table import config_table
from quranbot.cli.context import cli_context
from quranbot.cli.output import fail, out
from quranbot.config.keys import RECITER_KEY, get_value, locate, set_value, to_document
from quranbot.config.load import load_config
from quranbot.config.rules import imported_reciter, optional, shown
from quranbot.config.schema import Config, ConfigError
from quranbot.config.token import TOKEN_ENV, TokenError, masked, read_token
from quranbot.config.write import write_config
from quranbot.paths import Paths
from quranbot.secret import Secret

config_app = typer.Typer(
    help="Show and change config.toml (the settings `quranbot setup` wrote).", no_args_is_help=True
)


def _load(paths: Paths) -> Config:
    try:
        return load_config(paths.config_file)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def token_source(paths: Paths) -> tuple[str, str | None, str | None]:
    """Where `quranbot run` (without --token-file) takes the token from, the token masked, and what is
    wrong with it (unreadable, empty), if anything."""
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        return f"${TOKEN_ENV}", masked(Secret(env)), None
    try:
        return str(paths.token_file), masked(read_token(paths.token_file)), None
    except TokenError as exc:
        return str(paths.token_file), None, None if not paths.token_file.exists() else str(exc)


def webhook_source(paths: Paths) -> tuple[str | None, str | None]:
    """The saved alerts webhook URL masked, or what is wrong with its file."""
    try:
        webhook = read_webhook_url(paths.alerts_webhook_file)
    except WebhookUrlError as exc:
        return None, str(exc)
    return (None if webhook is None else masked_webhook(webhook)), None


@config_app.command("show")
def show_command(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False
) -> None:
    """The settings in effect (defaults where config.toml says nothing); the token masked."""
    paths = cli_context(ctx).paths
    config = _load(paths)
    source, token, problem = token_source(paths)
    webhook, webhook_problem = webhook_source(paths)
    if as_json:
        document = {
            "file": str(paths.config_file),
            "exists": paths.config_file.is_file(),
            "token": {"source": source, "masked": token, "problem": problem},
            "alerts_webhook": {
                "file": str(paths.alerts_webhook_file),
                "masked": webhook,
                "problem": webhook_problem,
            },
            "settings": to_document(config, include_unset=True),
        }
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    where = "" if paths.config_file.is_file() else " (no such file yet: these are the defaults)"
    out.print(f"{escape(str(paths.config_file))}{where}", soft_wrap=True, highlight=False)
    said = (
        f"{token}, from {source}" if token else problem or f"not set (`quranbot setup` saves it in {source})"
    )
    out.print(f"token: {escape(said)}", soft_wrap=True, highlight=False)
    hook = webhook_problem or (f"{webhook}, from {paths.alerts_webhook_file}" if webhook else "not set")
    out.print(f"alerts webhook: {escape(hook)}", soft_wrap=True, highlight=False)
    out.print(config_table(config))


@config_app.command("set")
def set_command(
    ctx: typer.Context,
    key: Annotated[
        str, typer.Argument(help="A dotted key, e.g. backup.interval_minutes or guilds.0.voice_channel.")
    ],
    value: Annotated[str, typer.Argument(help="The new value (none clears an optional one).")],
) -> None:
    """Change one setting in config.toml (a running bot reads it when it restarts)."""
    paths = cli_context(ctx).paths
    config = _load(paths)
    library = Library(paths.audio_dir)
    rule = optional(lambda v: imported_reciter(v, library)) if key == RECITER_KEY else None
    try:
        changed = set_value(config, key, value, rule)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    try:
        write_config(paths.config_file, changed)
    except OSError as exc:
        raise fail(f"Could not write {paths.config_file}: {exc.strerror or exc}") from None
    new = get_value(changed, key)
    said = f"= {shown(new)}" if new is not None else f"cleared ({locate(changed, key).setting.unset})"
    out.print(f"{escape(key)} {escape(said)} in {escape(str(paths.config_file))}", soft_wrap=True)


@config_app.command("path")
def path_command(ctx: typer.Context) -> None:
    """Where config.toml is (it may not exist yet)."""
    out.print(escape(str(cli_context(ctx).paths.config_file)), soft_wrap=True, highlight=False)
