"""`quranbot sandbox`: run the local Discord stand-in on its own, for a bot started separately."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from quranbot.cli.context import cli_context
from quranbot.log_setup import configure_logging

console = Console()


def sandbox_command(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="TCP port for REST and the gateways (0: any free port).")] = 0,
) -> None:
    """Run a local Discord on loopback until Ctrl+C; `quranbot run --sandbox URL` connects to it."""
    context = cli_context(ctx)
    configure_logging(context.verbose)
    asyncio.run(_serve(context.paths.sandbox_dir, port, context.home is not None))


async def _serve(directory: Path, port: int, home_given: bool) -> None:
    # Imported here, not at the top, so that `quranbot run` never loads the sandbox.
    from quranbot.sandbox.server import Sandbox

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Sandbox(directory, port=port) as sandbox:
        default = sandbox.default
        home_flag = "" if home_given else " (same --home)"
        console.print(f"[bold green]Sandbox Discord listening on {sandbox.url}[/]")
        console.print(f"  certificate   {sandbox.cert_file}")
        console.print(f"  bot token     in {directory / 'token'}")
        console.print(f"  guild         {default.guild.name} ({default.guild.id})")
        console.print(f"  voice channel #{default.voice.name} ({default.voice.id})")
        console.print(f"  text channel  #{default.general.name} ({default.general.id})")
        command = f"quranbot run --sandbox {sandbox.url} --voice-channel {default.voice.id}"
        console.print(f"Connect a bot{home_flag}: {command}", highlight=False)
        with contextlib.suppress(asyncio.CancelledError):
            await stop.wait()
        console.print("Sandbox stopped.")
