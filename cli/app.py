"""The `quranbot` command: root options and the list of subcommands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quranbot import __version__
from quranbot.cli.alerts import alerts_app
from quranbot.cli.audit import audit_command
from quranbot.cli.ayah import ayah_command
from quranbot.cli.backup import backup_app
from quranbot.cli.config import config_app
from quranbot.cli.context import CliContext
from quranbot.cli.demo import demo_command
from quranbot.cli.doctor import doctor_command
from quranbot.cli.logs import logs_command
from quranbot.cli.quiz import quiz_app
from quranbot.cli.reciter import reciter_app
from quranbot.cli.run import run_command
from quranbot.cli.sandbox import sandbox_command
from quranbot.cli.service import service_app
from quranbot.cli.setup import setup_command
from quranbot.cli.shards import shards_app
from quranbot.cli.soak import soak_command
from quranbot.cli.stats import stats_app
from quranbot.cli.status import status_command
from quranbot.cli.steer import next_command, pause_command, play_command, previous_command, resume_command
from quranbot.cli.tui import tui_command
from quranbot.cli.verse import verse_app
from quranbot.paths import HOME_ENV, Paths

app = typer.Typer(
    name="quranbot",
    help="QuranBot: keeps a Discord voice channel reciting the Quran around the clock.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"quranbot {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar=HOME_ENV,
            help="Keep config, state, audio and the socket under this directory instead of system paths.",
            file_okay=False,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    ctx.obj = CliContext(paths=Paths.resolve(home), home=home, verbose=verbose)


app.command("setup")(setup_command)
app.command("run")(run_command)
app.command("demo")(demo_command)
app.command("sandbox")(sandbox_command)
app.command("tui")(tui_command)
app.command("status")(status_command)
app.command("play")(play_command)
app.command("pause")(pause_command)
app.command("resume")(resume_command)
app.command("next")(next_command)
app.command("previous")(previous_command)
app.command("logs")(logs_command)
app.command("audit")(audit_command)
app.command("doctor")(doctor_command)
app.command("ayah")(ayah_command)
app.command("soak")(soak_command)
app.add_typer(alerts_app, name="alerts")
app.add_typer(backup_app, name="backup")
app.add_typer(config_app, name="config")
app.add_typer(quiz_app, name="quiz")
app.add_typer(reciter_app, name="reciter")
app.add_typer(service_app, name="service")
app.add_typer(shards_app, name="shards")
app.add_typer(stats_app, name="stats")
app.add_typer(verse_app, name="verse")


def main() -> None:
    app()
