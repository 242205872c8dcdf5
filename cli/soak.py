"""`quranbot soak --minutes N`: the soak (quranbot/soak/) on this machine, against the sandbox, and its
table. It never touches the real bot's files: everything lives in a temporary home (or `--keep DIR`)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from quranbot.cli.output import fail, out


def soak_command(
    minutes: Annotated[float, typer.Option(min=0.5, help="How long to run the faults.")] = 10.0,
    seed: Annotated[int | None, typer.Option(help="Draw the same faults again (printed at the end).")] = None,
    only: Annotated[
        str | None,
        typer.Option(help="Only these faults, comma-separated (default: every one this machine can do)."),
    ] = None,
    keep: Annotated[
        Path | None, typer.Option(help="Run in this directory and keep it (the bot's log, state) afterwards.")
    ] = None,
) -> None:
    """Run the real bot on the sandbox under a fault every few seconds and print how it recovered.

    Faults: gateway drops, voice close codes, kicks and moves, UDP silence, REST 429/503, a member flood
    on the panel, junk and a slow subscriber on the control socket, a hung track file, a full disk (as
    root), SIGSTOP past the watchdog, wall-clock steps of an hour (a C compiler builds the shim),
    SIGKILL. Exit 1 if any promise broke (a fault not recovered within 10 s, a position lost, a state
    file unloadable, listening counted twice, a daily verse posted twice, an unhandled exception)."""
    from quranbot.soak.report import print_report
    from quranbot.soak.run import Soak

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("quranbot.sandbox").setLevel(logging.WARNING)
    command = f"quranbot soak --minutes {minutes:g}" + (f" --only '{only}'" if only else "")
    with tempfile.TemporaryDirectory(prefix="quranbot-soak-") as temporary:
        home = keep or Path(temporary)
        try:
            soak = Soak(home, minutes=minutes, seed=seed, only=only.split(",") if only else None)
        except ValueError as exc:
            raise fail(str(exc), 2) from None
        out.print(f"soaking for {minutes:g} min (seed {soak.seed}) in {home} …", highlight=False)
        report = asyncio.run(soak.run())
        print_report(report, out, f"{command} --seed {report.seed}")
    if report.problems():
        raise typer.Exit(1)
