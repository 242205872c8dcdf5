"""`quranbot run`: run the bot in the foreground, against Discord or a sandbox."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import aiohttp
import typer

from quranbot.bot.runner import StartupError, run_bot
from quranbot.bot.settings import BotSettings
from quranbot.cli.context import cli_context
from quranbot.cli.output import fail
from quranbot.log_setup import configure_logging
from quranbot.paths import Paths
from quranbot.secret import Secret

TOKEN_ENV = "QURANBOT_TOKEN"


def read_token(path: Path) -> Secret:
    """The token from a file: one line, surrounding whitespace ignored."""
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        raise StartupError(f"Token file {path} does not exist") from None
    except PermissionError:
        raise StartupError(f"Token file {path} is not readable by this user") from None
    if not value:
        raise StartupError(f"Token file {path} is empty")
    return Secret(value)


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
        list[int] | None, typer.Option(help="Voice channel id to join and play in (repeatable).")
    ] = None,
    flush_interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between saves of the playback position.")
    ] = 2.0,
    backup_every: Annotated[int, typer.Option(min=1, help="Minutes between automatic state backups.")] = 60,
    pause_when_empty: Annotated[
        bool, typer.Option(help="Pause while nobody is in the voice channel (saves CPU); off by default.")
    ] = False,
) -> None:
    """Run the bot in the foreground until Ctrl+C or SIGTERM.

    The token comes from --token-file, else $QURANBOT_TOKEN, else the config directory's `token` file
    (with --sandbox: the token the sandbox wrote).
    """
    context = cli_context(ctx)
    paths = context.paths
    redactor = configure_logging(context.verbose)
    try:
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
        settings = BotSettings(
            token=token,
            voice_channels=tuple(voice_channel or ()),
            flush_interval=flush_interval,
            backup_interval=timedelta(minutes=backup_every),
            pause_when_empty=pause_when_empty,
        )
        asyncio.run(_run(settings, paths, target))
    except StartupError as exc:
        raise fail(str(exc)) from None


async def _run(settings: BotSettings, paths: Paths, target: SandboxTarget | None) -> None:
    """The connector is made inside the event loop that will use it."""
    await run_bot(settings, paths, connector=None if target is None else target.connector())
